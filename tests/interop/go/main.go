// Go S3 clients through stsgate with temporary credentials: minio-go v7 (put, get, list, stat)
// and aws-sdk-go-v2 (put, get, multipart upload manager, presigned GET). Run by
// tests/s3_clients.rs, which starts the gateway and passes everything in the environment:
// STSGATE_ENDPOINT (host:port), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
// STSGATE_BUCKET. The first argument picks the client. Any failure exits non-zero with a message.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"
)

func check(what string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
		os.Exit(1)
	}
}

func want(what string, ok bool) {
	if !ok {
		fmt.Fprintf(os.Stderr, "%s\n", what)
		os.Exit(1)
	}
}

// data returns n deterministic bytes.
func data(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31) ^ seed
	}
	return b
}

func main() {
	endpoint := os.Getenv("STSGATE_ENDPOINT")
	bucket := os.Getenv("STSGATE_BUCKET")
	key, secret, token := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")
	ctx := context.Background()
	switch os.Args[1] {
	case "web-identity", "container":
		defaultChain(ctx)
	case "minio-go":
		c, err := minio.New(endpoint, &minio.Options{
			Creds:        miniocreds.NewStaticV4(key, secret, token),
			Secure:       false,
			Region:       "us-east-1",
			BucketLookup: minio.BucketLookupPath,
		})
		check("minio.New", err)
		body := data(3*1024*1024+7, 1)
		_, err = c.PutObject(ctx, bucket, "go/minio-go.bin", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{ContentType: "application/octet-stream"})
		check("PutObject", err)
		info, err := c.StatObject(ctx, bucket, "go/minio-go.bin", minio.StatObjectOptions{})
		check("StatObject", err)
		want(fmt.Sprintf("StatObject size %d", info.Size), info.Size == int64(len(body)))
		obj, err := c.GetObject(ctx, bucket, "go/minio-go.bin", minio.GetObjectOptions{})
		check("GetObject", err)
		got, err := io.ReadAll(obj)
		check("GetObject read", err)
		want("GetObject returned other bytes", sha256.Sum256(got) == sha256.Sum256(body))
		found := false
		for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: "go/", Recursive: true}) {
			check("ListObjects", o.Err)
			found = found || o.Key == "go/minio-go.bin"
		}
		want("ListObjects did not list go/minio-go.bin", found)
		check("RemoveObject", c.RemoveObject(ctx, bucket, "go/minio-go.bin", minio.RemoveObjectOptions{}))
	case "aws-sdk-go-v2":
		client := s3.New(s3.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String("http://" + endpoint),
			UsePathStyle: true,
			Credentials:  credentials.NewStaticCredentialsProvider(key, secret, token),
		})
		body := data(1024*1024+3, 2)
		_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("go/v2.bin"), Body: bytes.NewReader(body)})
		check("PutObject", err)
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("go/v2.bin")})
		check("GetObject", err)
		got, err := io.ReadAll(out.Body)
		check("GetObject read", err)
		want("GetObject returned other bytes", sha256.Sum256(got) == sha256.Sum256(body))
		// The upload manager: 12 MiB in 5 MiB parts (CreateMultipartUpload, UploadPart ×3, Complete).
		big := data(12*1024*1024+11, 3)
		uploader := manager.NewUploader(client, func(u *manager.Uploader) { u.PartSize = 5 * 1024 * 1024 })
		_, err = uploader.Upload(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("go/multipart.bin"), Body: bytes.NewReader(big)})
		check("manager.Upload", err)
		head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("go/multipart.bin")})
		check("HeadObject", err)
		want(fmt.Sprintf("multipart size %d", aws.ToInt64(head.ContentLength)), aws.ToInt64(head.ContentLength) == int64(len(big)))
		presigned, err := s3.NewPresignClient(client).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("go/v2.bin")})
		check("PresignGetObject", err)
		resp, err := http.Get(presigned.URL)
		check("presigned GET", err)
		got, err = io.ReadAll(resp.Body)
		check("presigned GET read", err)
		want(fmt.Sprintf("presigned GET: %d %s", resp.StatusCode, strings.TrimSpace(string(got[:min(len(got), 300)]))), resp.StatusCode == 200 && sha256.Sum256(got) == sha256.Sum256(body))
		for _, k := range []string{"go/v2.bin", "go/multipart.bin"} {
			_, err = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: aws.String(k)})
			check("DeleteObject "+k, err)
		}
	default:
		want("usage: interop minio-go|aws-sdk-go-v2", false)
	}
	fmt.Println("ok")
}
