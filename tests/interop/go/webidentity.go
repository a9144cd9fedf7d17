package main

// The aws-sdk-go-v2 web identity provider, unchanged: config.LoadDefaultConfig reads
// AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN and AWS_ENDPOINT_URL_STS from the environment set by
// tests/web_identity_clients.rs, so the credentials come from the gateway's
// AssumeRoleWithWebIdentity. The cache's ExpiryWindow (a stock option) is set so that the
// credentials count as expiring STSGATE_EXPIRY_WINDOW_SECONDS before their Expiration: the
// second use after a short wait then refreshes them (a new AssumeRoleWithWebIdentity, with the
// token file read again). Prints the two caller ARNs and whether the access key changed.

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func webIdentity(ctx context.Context) {
	window, err := strconv.Atoi(os.Getenv("STSGATE_EXPIRY_WINDOW_SECONDS"))
	check("STSGATE_EXPIRY_WINDOW_SECONDS", err)
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion("us-east-1"),
		config.WithCredentialsCacheOptions(func(o *aws.CredentialsCacheOptions) {
			o.ExpiryWindow = time.Duration(window) * time.Second
		}))
	check("LoadDefaultConfig", err)
	client := sts.NewFromConfig(cfg)
	first, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	check("GetCallerIdentity", err)
	creds1, err := cfg.Credentials.Retrieve(ctx)
	check("Retrieve", err)
	time.Sleep(3 * time.Second)
	second, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	check("GetCallerIdentity after the wait", err)
	creds2, err := cfg.Credentials.Retrieve(ctx)
	check("Retrieve after the wait", err)
	want("the web identity credentials have an expiry", creds1.CanExpire)
	fmt.Printf("%s\n%s\nrefreshed=%v\n", aws.ToString(first.Arn), aws.ToString(second.Arn), creds1.AccessKeyID != creds2.AccessKeyID)
}
