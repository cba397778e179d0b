package main

import (
	"google.golang.org/api/option"

	"github.com/cutover-dev/cutover/localcloud/gcp"
)

// googleClientOptions are the client options every Google API driver of a
// command (Cloud Run, Cloud Monitoring) is built with, so that they all reach
// the same place the same way. No endpoint: none, so each client uses
// Google's own endpoint with Application Default Credentials. An endpoint
// "host:port" (the local cloud's control plane): that endpoint over plain
// gRPC, without credentials.
func googleClientOptions(endpoint string) []option.ClientOption {
	if endpoint == "" {
		return nil
	}
	return gcp.ClientOptions(endpoint)
}
