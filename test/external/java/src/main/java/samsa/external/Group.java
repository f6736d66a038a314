package samsa.external;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.MemberToRemove;
import org.apache.kafka.clients.admin.RemoveMembersFromConsumerGroupOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.errors.UnknownMemberIdException;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Group membership beyond one plain member:
 * {@code group cooperative BOOTSTRAP TOPIC GROUP N}: two members with the
 * cooperative-sticky assignor (KIP-429) share a 4-partition topic; the
 * first gives up exactly the two partitions the second gets, and together
 * they read the N records there are, and 40 more written once both hold
 * two, once each.
 * {@code group static BOOTSTRAP TOPIC GROUP}: a static member (KIP-345)
 * leaves without a LeaveGroup, and a new consumer with the same
 * group.instance.id takes its place without a rebalance; the Admin client
 * then removes it by its instance id.
 */
final class Group {
    private Group() {}

    static void run(String[] args) throws Exception {
        Check.that(args.length >= 4, "usage: group cooperative|static BOOTSTRAP TOPIC GROUP [N]");
        switch (args[0]) {
            case "cooperative" -> {
                Check.that(args.length == 5, "usage: group cooperative BOOTSTRAP TOPIC GROUP N");
                cooperative(args[1], args[2], args[3], Integer.parseInt(args[4]));
            }
            case "static" -> staticMember(args[1], args[2], args[3]);
            default -> throw new Check.Failure("unknown group command " + args[0]);
        }
    }

    /** A member's view: what it holds, what it was given and gave up. */
    static final class Member implements ConsumerRebalanceListener {
        final String name;
        final KafkaConsumer<byte[], byte[]> consumer;
        final List<Set<Integer>> assigned = new ArrayList<>();
        final List<Set<Integer>> revoked = new ArrayList<>();
        final List<Set<Integer>> lost = new ArrayList<>();

        Member(String name, Properties props, String topic) {
            this.name = name;
            this.consumer = new KafkaConsumer<>(props);
            consumer.subscribe(List.of(topic), this);
        }

        static Set<Integer> ids(Collection<TopicPartition> tps) {
            Set<Integer> s = new TreeSet<>();
            tps.forEach(tp -> s.add(tp.partition()));
            return s;
        }

        Set<Integer> holds() {
            return ids(consumer.assignment());
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> tps) {
            assigned.add(ids(tps));
        }

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> tps) {
            revoked.add(ids(tps));
            if (!tps.isEmpty()) {
                consumer.commitSync(); // the next owner starts where this one stopped
            }
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> tps) {
            lost.add(ids(tps));
        }
    }

    /** Records written to each partition once the two members hold two each. */
    static final int MORE = 10;

    static void cooperative(String bootstrap, String topic, String group, int n) throws Exception {
        Set<String> seen = new HashSet<>();
        int[] read = new int[2];
        List<Member> members = new ArrayList<>();
        try {
            for (String name : List.of("a", "b")) {
                Properties props = Consume.props(bootstrap, group, "samsa-java-" + name);
                props.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, CooperativeStickyAssignor.class.getName());
                props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "5");
                members.add(new Member(name, props, topic));
                Member m = members.get(members.size() - 1);
                // Poll every member (one thread, each consumer used by it
                // alone) until the group has settled: the first alone holds
                // all 4 partitions, then each of the two holds 2.
                long deadline = Check.deadline(30_000);
                while (!settled(members)) {
                    Check.that(Check.before(deadline), "group did not settle with %d member(s) within 30 s: %s", members.size(), holdings(members));
                    for (int i = 0; i < members.size(); i++) {
                        for (var r : members.get(i).consumer.poll(Duration.ofMillis(50))) {
                            Check.that(seen.add(r.partition() + "/" + r.offset()), "record %d/%d read twice", r.partition(), r.offset());
                            read[i]++;
                        }
                        commit(members.get(i));
                    }
                }
                Check.say("%d member(s): %s", members.size(), holdings(members));
                Check.that(m.assigned.size() >= 1, "member %s: no assignment callback", m.name);
            }
            Member a = members.get(0), b = members.get(1);
            Set<Integer> union = new TreeSet<>(a.holds());
            union.addAll(b.holds());
            Check.equal(union, Set.of(0, 1, 2, 3), "partitions held by a and b together");
            // Cooperative: a gave up exactly what b got, never all it held.
            Check.equal(a.assigned.get(0), Set.of(0, 1, 2, 3), "a's first assignment");
            Check.that(a.lost.isEmpty(), "a lost partitions %s", a.lost);
            Set<Integer> aRevoked = new TreeSet<>();
            a.revoked.forEach(aRevoked::addAll);
            Check.equal(aRevoked, b.holds(), "partitions a revoked (b's)");
            Check.say("a revoked only the 2 partitions b got, and kept 2 (no stop-the-world revocation)");

            // Records written now land on partitions each member holds.
            Properties pp = new Properties();
            pp.put("bootstrap.servers", bootstrap);
            pp.put("acks", "all");
            try (var producer = new KafkaProducer<byte[], byte[]>(pp, new ByteArraySerializer(), new ByteArraySerializer())) {
                for (int i = 0; i < 4 * MORE; i++) {
                    producer.send(new ProducerRecord<>(topic, i % 4, null, Produce.bytes("after-join-" + i))).get();
                }
            }
            n += 4 * MORE;
            long deadline = Check.deadline(60_000);
            while (seen.size() < n) {
                Check.that(Check.before(deadline), "read %d of %d records within 60 s", seen.size(), n);
                for (int i = 0; i < 2; i++) {
                    for (var r : members.get(i).consumer.poll(Duration.ofMillis(50))) {
                        Check.that(seen.add(r.partition() + "/" + r.offset()), "record %d/%d read twice", r.partition(), r.offset());
                        read[i]++;
                    }
                    commit(members.get(i));
                }
            }
            Check.that(read[1] >= 2 * MORE, "b read %d records, fewer than the %d written to its partitions after it joined", read[1], 2 * MORE);
            Check.say("a and b read the %d records (%d written after b joined) once each", n, 4 * MORE);
        } finally {
            for (Member m : members) {
                m.consumer.close();
            }
        }
    }

    /**
     * Commits what m read. The client refuses while its member is between
     * JoinGroup and SyncGroup; its next poll completes the rebalance, and
     * the next commit (or the revocation callback) commits.
     */
    static void commit(Member m) {
        try {
            m.consumer.commitSync();
        } catch (RebalanceInProgressException e) {
            // retried after the next poll
        }
    }

    static boolean settled(List<Member> members) {
        int want = 4 / members.size();
        Set<Integer> all = new HashSet<>();
        for (Member m : members) {
            Set<Integer> h = m.holds();
            if (h.size() != want) {
                return false;
            }
            all.addAll(h);
        }
        return all.size() == 4;
    }

    static String holdings(List<Member> members) {
        StringBuilder sb = new StringBuilder();
        for (Member m : members) {
            sb.append(sb.length() == 0 ? "" : ", ").append(m.name).append(" holds ").append(m.holds().size()).append(" partition(s)");
        }
        return sb.toString();
    }

    static void staticMember(String bootstrap, String topic, String group) throws Exception {
        Properties props = Consume.props(bootstrap, group, "samsa-java-static");
        props.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "static-1");
        props.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "30000");
        int generation;
        String memberId;
        Set<TopicPartition> assignment;
        try (var first = new KafkaConsumer<byte[], byte[]>(props)) {
            first.subscribe(List.of(topic));
            long deadline = Check.deadline(30_000);
            while (first.assignment().isEmpty()) {
                Check.that(Check.before(deadline), "static member: no assignment within 30 s");
                first.poll(Duration.ofMillis(100));
            }
            generation = first.groupMetadata().generationId();
            memberId = first.groupMetadata().memberId();
            assignment = first.assignment();
            Check.equal(first.groupMetadata().groupInstanceId(), java.util.Optional.of("static-1"), "group instance id");
            Check.say("static member static-1 joined: %d partitions", assignment.size());
        }
        // A static member's close sends no LeaveGroup: it stays in the group
        // until its session times out.
        var admin = adminClient(bootstrap);
        try (admin) {
            var desc = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
            Check.equal(desc.members().size(), 1, "members after the static member closed");
            MemberDescription m = desc.members().iterator().next();
            Check.equal(m.groupInstanceId(), java.util.Optional.of("static-1"), "described member's group instance id");
            Check.equal(m.consumerId(), memberId, "described member id");
            Check.say("after close: still a member (static-1, same member id)");

            try (var second = new KafkaConsumer<byte[], byte[]>(props)) {
                second.subscribe(List.of(topic));
                long deadline = Check.deadline(30_000);
                while (second.assignment().isEmpty()) {
                    Check.that(Check.before(deadline), "static rejoin: no assignment within 30 s");
                    second.poll(Duration.ofMillis(100));
                }
                Check.equal(second.assignment(), assignment, "static rejoin: assignment");
                Check.equal(second.groupMetadata().generationId(), generation, "static rejoin: generation (no rebalance)");
                Check.that(!second.groupMetadata().memberId().equals(memberId), "static rejoin kept the old member id %s", memberId);
                Check.say("static-1 rejoined: same assignment, same generation, a new member id");
            }
            desc = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
            Check.equal(desc.members().size(), 1, "members after the rejoined static member closed");
            Check.say("after the second close: 1 member (static-1)");

            // LeaveGroup v3+ by group.instance.id (KIP-345), from the Admin client.
            try {
                admin.removeMembersFromConsumerGroup(group, new RemoveMembersFromConsumerGroupOptions(
                        List.of(new MemberToRemove("no-such-instance")))).all().get();
                throw new Check.Failure("removing an unknown static member succeeded");
            } catch (ExecutionException e) {
                Check.cause(e, UnknownMemberIdException.class, "removing an unknown static member");
            }
            admin.removeMembersFromConsumerGroup(group, new RemoveMembersFromConsumerGroupOptions(
                    List.of(new MemberToRemove("static-1")))).all().get();
            desc = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
            Check.that(desc.members().isEmpty(), "members after removing static-1: %s", desc.members());
            Check.equal(desc.groupState(), GroupState.EMPTY, "state after removing static-1");
            Check.say("removeMembersFromConsumerGroup: unknown instance UnknownMemberIdException; static-1 removed, group EMPTY");
        }
    }

    static org.apache.kafka.clients.admin.Admin adminClient(String bootstrap) {
        Properties props = new Properties();
        props.put("bootstrap.servers", bootstrap);
        props.put("default.api.timeout.ms", "30000");
        return org.apache.kafka.clients.admin.Admin.create(props);
    }
}
