// Command coinjecture-anchor is the CometBFT side of `bench/run.sh --anchor`: the same load, on a
// 3-validator CometBFT network, as the yardstick for ours.
//
//	coinjecture-anchor node --home DIR            # a CometBFT node whose app is the kvstore
//	                                              # plus one ed25519 check per transaction
//	coinjecture-anchor load --rpc URL,URL,URL --rate 1000 --duration 20s --variant signed \
//	    --tx-bytes 290 --presign --report out.json
//
// The plain variant runs the stock `cometbft node --proxy_app=kvstore`; this program's node runs
// the signed variant in process the same way (local ABCI client). The load generator is open
// loop like coinjecture-loadtest (latency from the scheduled send time) and writes a report with
// the same field names.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "node":
		err = runNode(os.Args[2:])
	case "load":
		err = runLoad(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: coinjecture-anchor node --home DIR | load --rpc URLS --rate N --duration D [--variant plain|signed] [--presign] [--report FILE]")
	os.Exit(2)
}
