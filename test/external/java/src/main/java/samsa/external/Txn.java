package samsa.external;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * {@code txn BOOTSTRAP TOPIC TRANSACTIONAL_ID}: a transactional producer
 * commits 3 records, aborts 2, commits 1 (on partition 0 of TOPIC); a
 * read_committed consumer reads the 4 committed ones, a read_uncommitted
 * one all 6.
 */
final class Txn {
    private Txn() {}

    static void run(String[] args) throws Exception {
        Check.that(args.length == 3, "usage: txn BOOTSTRAP TOPIC TRANSACTIONAL_ID");
        String bootstrap = args[0], topic = args[1];
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, args[2]);
        // initTransactions blocks at most this long (60 s by default).
        pp.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "5000");
        try (var producer = new KafkaProducer<byte[], byte[]>(pp, new ByteArraySerializer(), new ByteArraySerializer())) {
            producer.initTransactions();
            String[][] txns = {{"commit", "c-0", "c-1", "c-2"}, {"abort", "a-0", "a-1"}, {"commit", "c-3"}};
            for (String[] txn : txns) {
                producer.beginTransaction();
                for (int i = 1; i < txn.length; i++) {
                    producer.send(new ProducerRecord<>(topic, 0, null, Produce.bytes(txn[i]))).get();
                }
                if (txn[0].equals("commit")) {
                    producer.commitTransaction();
                } else {
                    producer.abortTransaction();
                }
            }
        }
        Check.say("committed c-0 c-1 c-2, aborted a-0 a-1, committed c-3");
        Check.say("read_committed: %s", read(bootstrap, topic, "read_committed"));
        Check.say("read_uncommitted: %s", read(bootstrap, topic, "read_uncommitted"));
    }

    /** The values of partition 0, up to its end offset, at the isolation level. */
    static List<String> read(String bootstrap, String topic, String isolation) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "100");
        var tp = new TopicPartition(topic, 0);
        List<String> values = new ArrayList<>();
        try (var consumer = new KafkaConsumer<byte[], byte[]>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.assign(List.of(tp));
            long end = consumer.endOffsets(List.of(tp)).get(tp);
            long deadline = Check.deadline(30_000);
            while (consumer.position(tp) < end) {
                Check.that(Check.before(deadline), "%s: position %d of %d within 30 s", isolation, consumer.position(tp), end);
                consumer.poll(Duration.ofMillis(100)).forEach(r -> values.add(Consume.str(r.value())));
            }
        }
        return values;
    }
}
