package main

// aws-sdk-go-v2's default credential chain, unchanged: config.LoadDefaultConfig reads the
// environment set by the test: AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN and
// AWS_ENDPOINT_URL_STS (tests/web_identity_clients.rs: the credentials come from the gateway's
// AssumeRoleWithWebIdentity), or AWS_CONTAINER_CREDENTIALS_FULL_URI and
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (tests/pod_identity.rs: from its container-credentials
// endpoint). The cache's ExpiryWindow (a stock option) is set so that the
// credentials count as expiring STSGATE_EXPIRY_WINDOW_SECONDS before their Expiration: the
// second use after a short wait then refreshes them (a new call, with the token file read
// again). Prints the two caller ARNs and whether the access key changed.

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

func defaultChain(ctx context.Context) {
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
