'use strict'
// node consume.js ADDR TOPIC N GROUP
//
// Consumes TOPIC from the beginning with a KafkaJS consumer in group GROUP
// (KafkaJS has no group-less consumer) until it has N messages, then prints
// them as one JSON object on stdout: partition, offset, timestamp, and key,
// value and header values as base64 (null stays null), in arrival order;
// then commits what it read and prints the group's committed offsets as read
// back with the admin client (fetchOffsets) under "committed".
const { args, client, deadline, fail } = require('./common')

const b64 = b => (b === null || b === undefined ? null : Buffer.from(b).toString('base64'))

async function main() {
  const { addr, topic, n, group } = args(['addr', 'topic', 'n', 'group'])
  const count = Number(n)
  if (!Number.isInteger(count) || count < 1) fail(`N must be a positive integer, got ${n}`)
  deadline(60000)

  const kafka = client(addr, 'samsa-kafkajs-consume')
  const consumer = kafka.consumer({ groupId: group, sessionTimeout: 10000, heartbeatInterval: 1000, maxWaitTimeInMs: 200 })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  const records = []
  let resolve
  const done = new Promise(r => { resolve = r })
  const next = {} // partition -> offset after the last message read
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      if (records.length >= count) return
      const headers = []
      for (const [k, v] of Object.entries(message.headers || {})) {
        for (const one of Array.isArray(v) ? v : [v]) headers.push({ key: k, value: b64(one) })
      }
      next[partition] = String(Number(message.offset) + 1)
      records.push({
        partition,
        offset: Number(message.offset),
        timestamp: Number(message.timestamp),
        key: b64(message.key),
        value: b64(message.value),
        headers,
      })
      if (records.length === count) resolve()
    },
  })
  await done
  await consumer.commitOffsets(Object.entries(next).map(([partition, offset]) => ({ topic, partition: Number(partition), offset })))
  await consumer.disconnect()

  const admin = kafka.admin()
  await admin.connect()
  const fetched = await admin.fetchOffsets({ groupId: group, topics: [topic] })
  await admin.disconnect()
  const committed = {}
  for (const t of fetched) {
    for (const p of t.partitions) committed[p.partition] = Number(p.offset)
  }
  process.stdout.write(JSON.stringify({ records, committed }) + '\n')
}

main().catch(fail)
