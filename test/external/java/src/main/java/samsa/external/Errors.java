package samsa.external;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.NoOffsetForPartitionException;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetOutOfRangeException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.GroupNotEmptyException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidReplicationFactorException;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.UnknownMemberIdException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * {@code errors BOOTSTRAP TOPIC GROUP}: the errors a Kafka broker answers
 * reach the Java client as the exceptions Kafka's own broker gives:
 * MESSAGE_TOO_LARGE, OFFSET_OUT_OF_RANGE (Fetch and DeleteRecords),
 * INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR,
 * NON_EMPTY_GROUP, UNKNOWN_MEMBER_ID; and ListOffsets' specs and
 * DeleteRecords' low watermark.
 */
final class Errors {
    private Errors() {}

    static final long BASE_TIMESTAMP = 1_700_000_000_000L;

    static void run(String[] args) throws Exception {
        Check.that(args.length == 3, "usage: errors BOOTSTRAP TOPIC GROUP");
        String bootstrap = args[0], topic = args[1], group = args[2];
        var tp = new TopicPartition(topic, 0);
        try (var admin = Group.adminClient(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(topic, Optional.of(1), Optional.empty())
                    .configs(Map.of("max.message.bytes", "2000")))).all().get();
            int brokers = admin.describeCluster().nodes().get().size();

            Properties pp = new Properties();
            pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            pp.put(ProducerConfig.ACKS_CONFIG, "all");
            pp.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
            pp.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
            try (var producer = new KafkaProducer<byte[], byte[]>(pp, new ByteArraySerializer(), new ByteArraySerializer())) {
                for (int i = 0; i < 10; i++) {
                    var md = producer.send(new ProducerRecord<>(topic, 0, BASE_TIMESTAMP + i, null, Produce.bytes("r-" + i))).get();
                    Check.equal(md.offset(), (long) i, "offset of record " + i);
                }
                try {
                    producer.send(new ProducerRecord<>(topic, 0, null, new byte[5000])).get();
                    throw new Check.Failure("a 5000-byte record to a topic with max.message.bytes=2000 was accepted");
                } catch (ExecutionException e) {
                    Check.cause(e, RecordTooLargeException.class, "a 5000-byte record, max.message.bytes=2000");
                }
            }
            Check.say("produced offsets 0..9; a 5000-byte record over max.message.bytes=2000: RecordTooLargeException");

            Check.equal(offset(admin, tp, OffsetSpec.earliest()), 0L, "ListOffsets earliest");
            Check.equal(offset(admin, tp, OffsetSpec.latest()), 10L, "ListOffsets latest");
            Check.equal(offset(admin, tp, OffsetSpec.maxTimestamp()), 9L, "ListOffsets max timestamp");
            Check.equal(offset(admin, tp, OffsetSpec.forTimestamp(BASE_TIMESTAMP + 3)), 3L, "ListOffsets for timestamp +3");
            Check.equal(offset(admin, tp, OffsetSpec.forTimestamp(BASE_TIMESTAMP + 100)), -1L, "ListOffsets for a timestamp after the last");
            Check.say("listOffsets: earliest 0, latest 10, maxTimestamp 9, forTimestamp(+3) 3, forTimestamp(+100) -1");

            var deleted = admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(4))).lowWatermarks().get(tp).get();
            Check.equal(deleted.lowWatermark(), 4L, "deleteRecords low watermark");
            Check.equal(offset(admin, tp, OffsetSpec.earliest()), 4L, "ListOffsets earliest after deleteRecords");
            try {
                admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(100))).all().get();
                throw new Check.Failure("deleteRecords before offset 100 of 10 succeeded");
            } catch (ExecutionException e) {
                Check.cause(e, org.apache.kafka.common.errors.OffsetOutOfRangeException.class, "deleteRecords before offset 100 of 10");
            }
            Check.say("deleteRecords before 4: low watermark 4, earliest 4; before 100: OffsetOutOfRangeException");

            try (var consumer = consumer(bootstrap, null, "none")) {
                consumer.assign(List.of(tp));
                for (long at : new long[] {2, 50}) {
                    consumer.seek(tp, at);
                    var e = pollError(consumer, OffsetOutOfRangeException.class, "fetch at " + at);
                    Check.equal(e.offsetOutOfRangePartitions(), Map.of(tp, at), "out-of-range partitions");
                }
            }
            try (var consumer = consumer(bootstrap, null, "earliest")) {
                consumer.assign(List.of(tp));
                consumer.seek(tp, 2);
                long deadline = Check.deadline(30_000);
                StringBuilder got = new StringBuilder();
                while (consumer.position(tp) < 10) {
                    Check.that(Check.before(deadline), "read from 2 with reset earliest: position %d within 30 s", consumer.position(tp));
                    for (var r : consumer.poll(Duration.ofMillis(100))) {
                        got.append(r.offset());
                    }
                }
                Check.equal(got.toString(), "456789", "offsets read from 2 with auto.offset.reset=earliest");
            }
            Check.say("fetch at 2 (below the log start 4) and at 50: OffsetOutOfRangeException; with reset earliest: offsets 4..9");

            try (var consumer = consumer(bootstrap, group, "none")) {
                consumer.subscribe(List.of(topic));
                pollError(consumer, NoOffsetForPartitionException.class, "a group with no committed offset, reset none");
            }
            Check.say("a new group with auto.offset.reset=none: NoOffsetForPartitionException");

            createFails(admin, new NewTopic("bad name!", Optional.of(1), Optional.empty()), InvalidTopicException.class);
            createFails(admin, new NewTopic(topic + "-zero", Optional.of(0), Optional.empty()), InvalidPartitionsException.class);
            createFails(admin, new NewTopic(topic + "-rf", Optional.of(1), Optional.of((short) (brokers + 1))), InvalidReplicationFactorException.class);
            try {
                admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(1))).all().get();
                throw new Check.Failure("createPartitions to the current count succeeded");
            } catch (ExecutionException e) {
                Check.cause(e, InvalidPartitionsException.class, "createPartitions to the current count");
            }
            Check.say("createTopics: name \"bad name!\": InvalidTopicException; 0 partitions: InvalidPartitionsException; "
                    + "replication factor brokers+1: InvalidReplicationFactorException; createPartitions to 1 of 1: InvalidPartitionsException");

            try (var consumer = consumer(bootstrap, group, "earliest")) {
                consumer.subscribe(List.of(topic));
                long deadline = Check.deadline(30_000);
                while (consumer.assignment().isEmpty()) {
                    Check.that(Check.before(deadline), "no assignment within 30 s");
                    consumer.poll(Duration.ofMillis(100));
                }
                try {
                    admin.deleteConsumerGroups(List.of(group)).all().get();
                    throw new Check.Failure("deleting a group with a member succeeded");
                } catch (ExecutionException e) {
                    Check.cause(e, GroupNotEmptyException.class, "deleting a group with a member");
                }
                try {
                    admin.alterConsumerGroupOffsets(group, Map.of(tp, new OffsetAndMetadata(5))).all().get();
                    throw new Check.Failure("an admin offset commit to a group with a member succeeded");
                } catch (ExecutionException e) {
                    Check.cause(e, UnknownMemberIdException.class, "an admin offset commit to a group with a member");
                }
            }
            Check.say("a group with a member: deleteConsumerGroups GroupNotEmptyException, alterConsumerGroupOffsets UnknownMemberIdException");
        }
    }

    static long offset(org.apache.kafka.clients.admin.Admin admin, TopicPartition tp, OffsetSpec spec) throws Exception {
        return admin.listOffsets(Map.of(tp, spec)).partitionResult(tp).get().offset();
    }

    static KafkaConsumer<byte[], byte[]> consumer(String bootstrap, String group, String reset) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        if (group != null) {
            props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        }
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, reset);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "100");
        props.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        return new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    /** Polls until poll throws want; anything else, records or 30 s fail. */
    static <T extends Exception> T pollError(KafkaConsumer<byte[], byte[]> consumer, Class<T> want, String what) {
        long deadline = Check.deadline(30_000);
        while (true) {
            Check.that(Check.before(deadline), "%s: no %s within 30 s", what, want.getSimpleName());
            try {
                var polled = consumer.poll(Duration.ofMillis(100));
                Check.that(polled.isEmpty(), "%s: read %d records, want %s", what, polled.count(), want.getSimpleName());
            } catch (Exception e) {
                return Check.cause(e, want, what);
            }
        }
    }

    static void createFails(org.apache.kafka.clients.admin.Admin admin, NewTopic t, Class<? extends Throwable> want) throws Exception {
        try {
            admin.createTopics(List.of(t)).all().get();
            throw new Check.Failure("createTopics " + t + " succeeded");
        } catch (ExecutionException e) {
            Check.cause(e, want, "createTopics " + t);
        }
    }
}
