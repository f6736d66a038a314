'use strict'
// node txn.js ADDR TOPIC GROUP
//
// KafkaJS's transactional producer against TOPIC (3 partitions, created
// here): transaction 1 sends t1-0..t1-5 across the partitions and commits
// the offsets of GROUP (TOPIC partition 0 at 4, partition 1 at 7) with
// sendOffsets, then commits; transaction 2 sends t2-0..t2-3 and aborts;
// transaction 3 sends t3-0..t3-2 and commits. Then a second producer with
// the same transactional id fences the first: the first's next send must
// fail. Prints one JSON object on stdout: the values each transaction
// sent, and the error type the fenced producer got.
const { Partitioners } = require('kafkajs')
const { args, client, deadline, fail } = require('./common')

const PARTITIONS = 3

function messages(prefix, n) {
  const out = []
  for (let i = 0; i < n; i++) out.push({ partition: i % PARTITIONS, key: `${prefix}-k${i}`, value: `${prefix}-${i}` })
  return out
}

async function main() {
  const { addr, topic, group } = args(['addr', 'topic', 'group'])
  deadline(90000)
  const kafka = client(addr, 'samsa-kafkajs-txn')
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true })
  await admin.disconnect()

  const transactionalId = `${topic}-txn`
  const newProducer = () => kafka.producer({
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  })
  const producer = newProducer()
  await producer.connect()

  const sent = {}
  let txn = await producer.transaction()
  sent.t1 = messages('t1', 6)
  await txn.send({ topic, messages: sent.t1 })
  await txn.sendOffsets({
    consumerGroupId: group,
    topics: [{ topic, partitions: [{ partition: 0, offset: '4' }, { partition: 1, offset: '7' }] }],
  })
  await txn.commit()

  txn = await producer.transaction()
  sent.t2 = messages('t2', 4)
  await txn.send({ topic, messages: sent.t2 })
  await txn.abort()

  txn = await producer.transaction()
  sent.t3 = messages('t3', 3)
  await txn.send({ topic, messages: sent.t3 })
  await txn.commit()

  // A second producer with the same id bumps the epoch: the first is a
  // zombie now, and the broker must refuse it.
  // (KafkaJS initialises the transactional id at the first transaction(),
  // not at connect().)
  const second = newProducer()
  await second.connect()
  const t4 = await second.transaction()
  let fenced = null
  try {
    const z = await producer.transaction()
    await z.send({ topic, messages: messages('zombie', 1) })
    await z.commit()
  } catch (e) {
    fenced = e.type || e.name
  }
  sent.t4 = messages('t4', 2)
  await t4.send({ topic, messages: sent.t4 })
  await t4.commit()
  await second.disconnect()
  await producer.disconnect().catch(() => {})

  const values = {}
  for (const k of Object.keys(sent)) values[k] = sent[k].map(m => m.value)
  process.stdout.write(JSON.stringify({ values, fenced }) + '\n')
}

main().catch(fail)
