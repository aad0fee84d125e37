package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	cfg "github.com/cometbft/cometbft/config"
	cmtflags "github.com/cometbft/cometbft/libs/cli/flags"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	"github.com/spf13/viper"
)

// runNode runs one CometBFT node from a home directory written by `cometbft testnet`, with the
// signed kvstore in process (the same local ABCI client `--proxy_app=kvstore` uses).
func runNode(args []string) error {
	fs := flag.NewFlagSet("node", flag.ExitOnError)
	home := fs.String("home", "", "the node's CometBFT home directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *home == "" {
		return fmt.Errorf("--home is required")
	}
	config := cfg.DefaultConfig()
	config.SetRoot(*home)
	viper.SetConfigFile(filepath.Join(*home, "config", "config.toml"))
	if err := viper.ReadInConfig(); err != nil {
		return fmt.Errorf("reading %s: %w", viper.ConfigFileUsed(), err)
	}
	if err := viper.Unmarshal(config); err != nil {
		return fmt.Errorf("decoding %s: %w", viper.ConfigFileUsed(), err)
	}
	config.SetRoot(*home)
	if err := config.ValidateBasic(); err != nil {
		return fmt.Errorf("%s: %w", viper.ConfigFileUsed(), err)
	}
	pv := privval.LoadFilePV(config.PrivValidatorKeyFile(), config.PrivValidatorStateFile())
	nodeKey, err := p2p.LoadNodeKey(config.NodeKeyFile())
	if err != nil {
		return fmt.Errorf("node key: %w", err)
	}
	logger := cmtlog.NewTMLogger(cmtlog.NewSyncWriter(os.Stdout))
	logger, err = cmtflags.ParseLogLevel(config.LogLevel, logger, cfg.DefaultLogLevel)
	if err != nil {
		return fmt.Errorf("log level %q: %w", config.LogLevel, err)
	}
	node, err := nm.NewNode(config, pv, nodeKey, proxy.NewLocalClientCreator(newSignedApp()),
		nm.DefaultGenesisDocProviderFunc(config), cfg.DefaultDBProvider,
		nm.DefaultMetricsProvider(config.Instrumentation), logger)
	if err != nil {
		return fmt.Errorf("creating the node: %w", err)
	}
	if err := node.Start(); err != nil {
		return fmt.Errorf("starting the node: %w", err)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	if err := node.Stop(); err != nil {
		return err
	}
	node.Wait()
	return nil
}
