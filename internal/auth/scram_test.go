package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"testing"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// TestScramKeysRFC7677 checks the derivations against RFC 7677's
// SCRAM-SHA-256 example exchange: the server signature the server sends,
// and the client proof the client sent, verify with the keys derived here.
func TestScramKeysRFC7677(t *testing.T) {
	t.Parallel()
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	salted, err := SaltedPassword(metadata.ScramSHA256, "pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	stored, server := ScramKeys(metadata.ScramSHA256, salted)
	authMessage := "n=user,r=rOprNGfwEbeRWgbNEkqO," +
		"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096," +
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	mac := func(key []byte) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(authMessage))
		return m.Sum(nil)
	}
	if got := base64.StdEncoding.EncodeToString(mac(server)); got != "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" {
		t.Fatalf("server signature %s", got)
	}
	proof, _ := base64.StdEncoding.DecodeString("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	sig := mac(stored)
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ sig[i]
	}
	if h := sha256.Sum256(clientKey); !hmac.Equal(h[:], stored) {
		t.Fatal("the RFC's client proof does not verify against the stored key")
	}
}

// TestScramKeysSHA512: SHA-512 keys are SHA-512's length, and differ from
// SHA-256's for the same salted password.
func TestScramKeysSHA512(t *testing.T) {
	t.Parallel()
	salted, err := SaltedPassword(metadata.ScramSHA512, "pw", []byte("salt"), 4096)
	if err != nil {
		t.Fatal(err)
	}
	if len(salted) != 64 {
		t.Fatalf("salted password of %d bytes, want 64", len(salted))
	}
	s512, k512 := ScramKeys(metadata.ScramSHA512, salted)
	s256, _ := ScramKeys(metadata.ScramSHA256, salted)
	if len(s512) != 64 || len(k512) != 64 || len(s256) != 32 {
		t.Fatalf("key lengths %d %d %d", len(s512), len(k512), len(s256))
	}
}
