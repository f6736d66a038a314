package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

// `samsa user` manages users' SCRAM credentials, as kafka-configs.sh
// --entity-type users does with SCRAM-SHA-256=[iterations=...,password=...]
// (AlterUserScramCredentials and DescribeUserScramCredentials, KIP-554).
// The password is salted and hashed here; the broker receives the salted
// password and keeps only the keys derived from it.

func newUserCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Describe, set and delete users' SCRAM credentials (as kafka-configs.sh --entity-type users)",
	}
	cf := addClientFlags(cmd.PersistentFlags(), "deadline for the whole command")
	cmd.AddCommand(newUserDescribeCmd(cf), newUserSetSCRAMCmd(cf), newUserDeleteSCRAMCmd(cf))
	return cmd
}

// scramMechanism parses a mechanism's SASL name.
func scramMechanism(s string) (kadm.ScramMechanism, error) {
	switch strings.ToUpper(s) {
	case "SCRAM-SHA-256":
		return kadm.ScramSha256, nil
	case "SCRAM-SHA-512":
		return kadm.ScramSha512, nil
	}
	return 0, fmt.Errorf("--mechanism %q: want SCRAM-SHA-256 or SCRAM-SHA-512", s)
}

func newUserDescribeCmd(cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe [USER...]",
		Short: "The SCRAM mechanisms and iterations of the users named, or of every user with a credential",
		RunE: func(cmd *cobra.Command, users []string) error {
			adm, ctx, done, err := cf.admin(cmd)
			if err != nil {
				return err
			}
			defer done()
			described, err := adm.DescribeUserSCRAMs(ctx, users...)
			if err != nil {
				return fmt.Errorf("describe users: %w", err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tMECHANISM\tITERATIONS")
			var errs []error
			for _, d := range described.Sorted() {
				if d.Err != nil {
					errs = append(errs, fmt.Errorf("user %q: %w", d.User, d.Err))
					continue
				}
				for _, c := range d.CredInfos {
					fmt.Fprintf(tw, "%s\t%s\t%d\n", d.User, c.Mechanism, c.Iterations)
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
}

func newUserSetSCRAMCmd(cf *clientFlags) *cobra.Command {
	var mechanism, password, passwordFile string
	var iterations int32
	cmd := &cobra.Command{
		Use:   "set-scram USER (--password P | --password-file F)",
		Short: "Create or replace a user's SCRAM credential for one mechanism",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := scramMechanism(mechanism)
			if err != nil {
				return err
			}
			pw, err := readPassword(cmd, password, passwordFile)
			if err != nil {
				return err
			}
			if err := alterSCRAM(cmd, cf, nil, []kadm.UpsertSCRAM{{User: args[0], Mechanism: m, Iterations: iterations, Password: pw}}); err != nil {
				return fmt.Errorf("set %s for user %q: %w", m, args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Set %s for user %s (%d iterations).\n", m, args[0], iterations)
			return nil
		},
	}
	cmd.Flags().StringVar(&mechanism, "mechanism", "SCRAM-SHA-256", "SCRAM-SHA-256 or SCRAM-SHA-512")
	cmd.Flags().Int32Var(&iterations, "iterations", 4096, "PBKDF2 iterations, 4096 to 16384 (kafka-configs' default is 4096)")
	cmd.Flags().StringVar(&password, "password", "", "the password (visible to other users of this machine; prefer --password-file)")
	cmd.Flags().StringVar(&passwordFile, "password-file", "", "read the password from this file's first line (- for standard input)")
	return cmd
}

// readPassword is --password or the first line of --password-file, one of
// them, not empty.
func readPassword(cmd *cobra.Command, password, file string) (string, error) {
	switch {
	case password != "" && file != "":
		return "", errors.New("give --password or --password-file, not both")
	case password != "":
		return password, nil
	case file == "":
		return "", errors.New("give the password with --password or --password-file")
	}
	var r io.Reader = cmd.InOrStdin()
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, 1<<16))
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", fmt.Errorf("%s: the first line, the password, is empty", file)
	}
	return line, nil
}

func newUserDeleteSCRAMCmd(cf *clientFlags) *cobra.Command {
	var mechanism string
	cmd := &cobra.Command{
		Use:   "delete-scram USER",
		Short: "Delete a user's SCRAM credential for one mechanism",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := scramMechanism(mechanism)
			if err != nil {
				return err
			}
			if err := alterSCRAM(cmd, cf, []kadm.DeleteSCRAM{{User: args[0], Mechanism: m}}, nil); err != nil {
				return fmt.Errorf("delete %s of user %q: %w", m, args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Deleted %s of user %s.\n", m, args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&mechanism, "mechanism", "SCRAM-SHA-256", "SCRAM-SHA-256 or SCRAM-SHA-512")
	return cmd
}

// alterSCRAM sends one AlterUserScramCredentials and returns its first
// error, the request's or a user's.
func alterSCRAM(cmd *cobra.Command, cf *clientFlags, dels []kadm.DeleteSCRAM, ups []kadm.UpsertSCRAM) error {
	adm, ctx, done, err := cf.admin(cmd)
	if err != nil {
		return err
	}
	defer done()
	altered, err := adm.AlterUserSCRAMs(ctx, dels, ups)
	if err != nil {
		return err
	}
	return altered.Error()
}
