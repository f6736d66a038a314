// Package sasl tests SASL authentication on SASL_PLAINTEXT listeners with
// real clients: PLAIN users from the listener's JAAS config, SCRAM users
// from the credentials AlterUserScramCredentials stores, and the protocol
// rules a Kafka broker enforces before a connection has authenticated.
package sasl
