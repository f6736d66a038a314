'use strict'
// Shared by produce.js and consume.js: argument parsing, a KafkaJS client
// that logs to stderr (stdout carries only the JSON result), and a hard
// deadline so a hung broker fails the run instead of stalling it.
const { Kafka, logLevel } = require('kafkajs')

function args(names) {
  const argv = process.argv.slice(2)
  const out = {}
  names.forEach((name, i) => {
    const envName = 'KAFKAJS_' + name.toUpperCase()
    const v = argv[i] !== undefined ? argv[i] : process.env[envName]
    if (v === undefined || v === '') {
      usage(names, `missing ${name} (argument ${i + 1} or $${envName})`)
    }
    out[name] = v
  })
  return out
}

function usage(names, why) {
  process.stderr.write(`${why}\nusage: node ${require('path').basename(process.argv[1])} ${names.map(n => n.toUpperCase()).join(' ')}\n`)
  process.exit(64)
}

// client is a KafkaJS client of addr. With KAFKAJS_SASL_MECHANISM set
// (plain, scram-sha-256 or scram-sha-512), it authenticates with
// KAFKAJS_SASL_USERNAME and KAFKAJS_SASL_PASSWORD.
function client(addr, clientId) {
  const mechanism = process.env.KAFKAJS_SASL_MECHANISM
  const sasl = mechanism
    ? { mechanism, username: process.env.KAFKAJS_SASL_USERNAME, password: process.env.KAFKAJS_SASL_PASSWORD }
    : undefined
  return new Kafka({
    clientId,
    brokers: [addr],
    sasl,
    connectionTimeout: 5000,
    requestTimeout: 15000,
    // Few, quick retries: a broker that keeps failing should fail the test
    // within seconds. (KafkaJS warns that limited retries weaken the
    // idempotent producer's guarantees; that warning is expected here.)
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, level, label, log }) => {
      const { message, ...extra } = log
      process.stderr.write(`[kafkajs ${label}] ${namespace}: ${message} ${JSON.stringify(extra)}\n`)
    },
  })
}

// deadline exits with status 2 if the script is still running after ms.
function deadline(ms) {
  setTimeout(() => {
    process.stderr.write(`deadline of ${ms}ms passed\n`)
    process.exit(2)
  }, ms).unref()
}

function fail(err) {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
}

module.exports = { args, client, deadline, fail }
