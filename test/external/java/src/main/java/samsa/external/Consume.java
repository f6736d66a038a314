package samsa.external;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * {@code consume BOOTSTRAP TOPIC GROUP N}: a consumer in GROUP (classic
 * protocol) subscribes to TOPIC, reads exactly N records, committing
 * synchronously after every poll, and checks that what it committed is each
 * partition's end offset. A second consumer in the same group then starts
 * at the committed offsets and reads nothing.
 */
final class Consume {
    private Consume() {}

    static Properties props(String bootstrap, String group, String clientId) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        props.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "7"); // many polls, many commits
        props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "100");
        props.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000");
        props.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "1000");
        props.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        return props;
    }

    static String str(byte[] b) {
        return b == null ? "null" : new String(b, StandardCharsets.UTF_8);
    }

    static void run(String[] args) {
        Check.that(args.length == 4, "usage: consume BOOTSTRAP TOPIC GROUP N");
        String bootstrap = args[0], topic = args[1], group = args[2];
        int n = Integer.parseInt(args[3]);

        Map<TopicPartition, OffsetAndMetadata> committed;
        try (var consumer = new KafkaConsumer<byte[], byte[]>(props(bootstrap, group, "samsa-java-consume-1"))) {
            consumer.subscribe(List.of(topic));
            List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
            Set<String> seen = new HashSet<>();
            long deadline = Check.deadline(60_000);
            while (records.size() < n) {
                Check.that(Check.before(deadline), "read %d of %d records within 60 s", records.size(), n);
                var polled = consumer.poll(Duration.ofMillis(200));
                for (var r : polled) {
                    Check.that(seen.add(r.partition() + "/" + r.offset()), "record %d/%d read twice", r.partition(), r.offset());
                    records.add(r);
                }
                if (!polled.isEmpty()) {
                    consumer.commitSync();
                }
            }
            // Nothing more is there: a further second of polling reads nothing.
            long quiet = Check.deadline(1_000);
            while (Check.before(quiet)) {
                var polled = consumer.poll(Duration.ofMillis(200));
                Check.that(polled.isEmpty(), "read %d records more than the %d produced", polled.count(), n);
            }
            Set<TopicPartition> assigned = consumer.assignment();
            Set<Integer> parts = new TreeSet<>();
            assigned.forEach(tp -> parts.add(tp.partition()));
            Check.say("assigned partitions %s", parts);

            records.sort(Comparator.comparingInt((ConsumerRecord<byte[], byte[]> r) -> r.partition())
                    .thenComparingLong(ConsumerRecord::offset));
            Map<Integer, Long> next = new HashMap<>();
            for (var r : records) {
                long want = next.getOrDefault(r.partition(), 0L);
                Check.equal(r.offset(), want, "partition " + r.partition() + " offset");
                next.put(r.partition(), want + 1);
            }
            Check.say("read %d records, each once, offsets contiguous from 0", n);
            for (var r : records) {
                StringBuilder hs = new StringBuilder();
                for (Header h : r.headers()) {
                    hs.append(hs.length() == 0 ? "" : ",").append(h.key()).append('=').append(str(h.value()));
                }
                Check.say("record partition=%d offset=%d timestamp=%d key=%s value=%s headers=[%s]",
                        r.partition(), r.offset(), r.timestamp(), str(r.key()), str(r.value()), hs);
            }

            committed = consumer.committed(assigned);
            Map<TopicPartition, Long> ends = consumer.endOffsets(assigned);
            for (TopicPartition tp : assigned.stream().sorted(Comparator.comparingInt(TopicPartition::partition)).toList()) {
                OffsetAndMetadata c = committed.get(tp);
                Check.that(c != null, "no committed offset for %s", tp);
                Check.equal(c.offset(), ends.get(tp), "committed offset of " + tp + " (end offset)");
                Check.say("committed partition=%d offset=%d = end offset", tp.partition(), c.offset());
            }
        }

        // A new member of the same group starts where the group committed.
        try (var consumer = new KafkaConsumer<byte[], byte[]>(props(bootstrap, group, "samsa-java-consume-2"))) {
            consumer.subscribe(List.of(topic));
            long deadline = Check.deadline(30_000);
            while (consumer.assignment().size() < committed.size()) {
                Check.that(Check.before(deadline), "rejoin: assigned %s within 30 s, want %s", consumer.assignment(), committed.keySet());
                var polled = consumer.poll(Duration.ofMillis(200));
                Check.that(polled.isEmpty(), "rejoin: re-read %d committed records", polled.count());
            }
            for (TopicPartition tp : consumer.assignment()) {
                Check.equal(consumer.position(tp), committed.get(tp).offset(), "rejoin: position of " + tp);
            }
            long quiet = Check.deadline(1_000);
            while (Check.before(quiet)) {
                var polled = consumer.poll(Duration.ofMillis(200));
                Check.that(polled.isEmpty(), "rejoin: re-read %d committed records", polled.count());
            }
            Check.say("rejoined group: position = committed offset on %d partitions, nothing re-read", committed.size());
        }
    }
}
