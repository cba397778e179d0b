package gcp

import (
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// ClientOptions point an unmodified Google client library (Cloud Run Admin
// v2, Cloud Monitoring v3) at the control plane at addr ("127.0.0.1:PORT",
// ControlPlane.Addr): that endpoint, over plain gRPC, without credentials.
// It is the one place these options are built: cmd/cutover builds its
// drivers with it, and the tests that reach a control plane do too.
func ClientOptions(addr string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}
