'use strict'
// node produce.js ADDR TOPIC N
//
// Creates TOPIC (3 partitions) with the admin client, then produces N
// messages with an idempotent producer at acks=-1: the first half in one
// GZIP-compressed send, the rest in one uncompressed send. Message i is
// fully determined by i (see message below; test/external/kafkajs_test.go
// rebuilds it to check what the broker stored). Prints, as one JSON object
// on stdout, whether the topic was created, the broker's per-send results
// and the offset the broker gave each message.
const { CompressionTypes, Partitioners } = require('kafkajs')
const { args, client, deadline, fail } = require('./common')

const PARTITIONS = 3
const BASE_TIMESTAMP = 1650000000000

function message(i) {
  let value = `value-${i}|` + 'kafkajs '.repeat(i % 7)
  if (i % 5 === 4) value = Buffer.from([0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, i & 0xff])
  if (i % 11 === 10) value = null
  return {
    partition: i % PARTITIONS,
    key: i % 10 === 9 ? null : `key-${i}`,
    value,
    timestamp: String(BASE_TIMESTAMP + i),
    headers: { 'h-index': String(i), 'h-bin': Buffer.from([0xff, 0x00, i & 0xff]), dup: ['a', 'b'] },
  }
}

async function main() {
  const { addr, topic, n } = args(['addr', 'topic', 'n'])
  const count = Number(n)
  if (!Number.isInteger(count) || count < 2) fail(`N must be an integer >= 2, got ${n}`)
  deadline(60000)

  const kafka = client(addr, 'samsa-kafkajs-produce')
  const admin = kafka.admin()
  await admin.connect()
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }],
    waitForLeaders: true,
  })
  await admin.disconnect()

  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  })
  await producer.connect()
  const half = Math.floor(count / 2)
  const sends = [
    { compression: 'gzip', codec: CompressionTypes.GZIP, from: 0, to: half },
    { compression: 'none', codec: CompressionTypes.None, from: half, to: count },
  ]
  const records = []
  const results = []
  for (const s of sends) {
    const ids = []
    for (let i = s.from; i < s.to; i++) ids.push(i)
    const meta = await producer.send({ topic, acks: -1, compression: s.codec, messages: ids.map(message) })
    results.push({ compression: s.compression, results: meta.map(m => ({ partition: m.partition, errorCode: m.errorCode, baseOffset: m.baseOffset })) })
    // The broker answers one base offset per partition; the k-th message
    // sent to a partition in this send got base + k.
    const seen = {}
    for (const i of ids) {
      const p = message(i).partition
      const m = meta.find(r => r.partition === p)
      if (!m) fail(`no produce result for partition ${p}: ${JSON.stringify(meta)}`)
      const k = seen[p] || 0
      seen[p] = k + 1
      records.push({ i, partition: p, offset: Number(m.baseOffset) + k })
    }
  }
  await producer.disconnect()
  process.stdout.write(JSON.stringify({ created, sends: results, records }) + '\n')
}

main().catch(fail)
