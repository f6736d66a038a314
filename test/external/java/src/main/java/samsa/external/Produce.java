package samsa.external;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * {@code produce BOOTSTRAP TOPIC PARTITIONS N COMPRESSION}: sends record(i)
 * for i in [0, N) with an idempotent acks=all producer (several batches in
 * flight at once), and checks that every send was acknowledged at the next
 * offset of its partition, in send order.
 */
final class Produce {
    private Produce() {}

    /** The first timestamp; record i has BASE_TIMESTAMP + i. */
    static final long BASE_TIMESTAMP = 1_700_000_000_000L;

    static ProducerRecord<byte[], byte[]> record(String topic, int partitions, int i) {
        var headers = new RecordHeaders();
        headers.add("i", bytes(Integer.toString(i)));
        if (i % 3 == 0) {
            headers.add("null-header", null);
        }
        byte[] key = i % 10 == 9 ? null : bytes("key-" + i);
        String value = "value-" + i + "|" + "java ".repeat(i % 7) + "compressible ".repeat(8);
        return new ProducerRecord<>(topic, i % partitions, BASE_TIMESTAMP + i, key, bytes(value), headers);
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static void run(String[] args) throws Exception {
        Check.that(args.length == 5, "usage: produce BOOTSTRAP TOPIC PARTITIONS N COMPRESSION");
        String bootstrap = args[0], topic = args[1], compression = args[4];
        int partitions = Integer.parseInt(args[2]), n = Integer.parseInt(args[3]);

        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.CLIENT_ID_CONFIG, "samsa-java-produce");
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "5");
        props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, compression);
        // Small batches and a short linger: many batches, several in flight.
        props.put(ProducerConfig.BATCH_SIZE_CONFIG, "1024");
        props.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());

        try (var producer = new KafkaProducer<byte[], byte[]>(props)) {
            Check.equal(producer.partitionsFor(topic).size(), partitions, "partitionsFor(" + topic + ").size()");
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                sent.add(producer.send(record(topic, partitions, i)));
            }
            producer.flush();
            long[] next = new long[partitions];
            for (int i = 0; i < n; i++) {
                RecordMetadata md = sent.get(i).get();
                int p = i % partitions;
                Check.equal(md.topic(), topic, "record " + i + " topic");
                Check.equal(md.partition(), p, "record " + i + " partition");
                Check.equal(md.offset(), next[p], "record " + i + " offset");
                // CreateTime topics echo the record's own timestamp as -1 in
                // the response; the client then reports the record's.
                Check.equal(md.timestamp(), BASE_TIMESTAMP + i, "record " + i + " timestamp");
                next[p]++;
            }
            Check.say("acknowledged %d records with acks=all, idempotence, compression %s", n, compression);
            for (int p = 0; p < partitions; p++) {
                Check.say("partition %d: offsets 0..%d in send order", p, next[p] - 1);
            }
        }
    }
}
