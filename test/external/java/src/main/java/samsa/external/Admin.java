package samsa.external;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListGroupsOptions;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicCollection;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicIdException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/**
 * The Admin client: {@code admin topics BOOTSTRAP TOPIC}, {@code admin
 * topic-ids BOOTSTRAP TOPIC}, {@code admin cluster BOOTSTRAP}, {@code admin
 * groups BOOTSTRAP TOPIC GROUP}.
 */
final class Admin {
    private Admin() {}

    static void run(String[] args) throws Exception {
        Check.that(args.length >= 2, "usage: admin topics|topic-ids|cluster|groups BOOTSTRAP ...");
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[1]);
        props.put(AdminClientConfig.CLIENT_ID_CONFIG, "samsa-java-admin");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        try (var admin = org.apache.kafka.clients.admin.Admin.create(props)) {
            switch (args[0]) {
                case "topics" -> {
                    Check.that(args.length == 3, "usage: admin topics BOOTSTRAP TOPIC");
                    topics(admin, args[2]);
                }
                case "topic-ids" -> {
                    Check.that(args.length == 3, "usage: admin topic-ids BOOTSTRAP TOPIC");
                    topicIds(admin, args[2]);
                }
                case "cluster" -> cluster(admin);
                case "groups" -> {
                    Check.that(args.length == 4, "usage: admin groups BOOTSTRAP TOPIC GROUP");
                    groups(admin, args[2], args[3]);
                }
                default -> throw new Check.Failure("unknown admin command " + args[0]);
            }
        }
    }

    static void topics(org.apache.kafka.clients.admin.Admin admin, String topic) throws Exception {
        // Create with 3 partitions, the broker's default replication factor
        // and two topic configs.
        var newTopic = new NewTopic(topic, Optional.of(3), Optional.empty())
                .configs(Map.of("retention.ms", "3600000", "max.message.bytes", "200000"));
        CreateTopicsResult created = admin.createTopics(List.of(newTopic));
        created.all().get();
        Check.equal(created.numPartitions(topic).get(), 3, "CreateTopics partitions");
        int rf = created.replicationFactor(topic).get();
        Check.that(rf >= 1, "CreateTopics replication factor %d", rf);
        Check.that(!created.topicId(topic).get().equals(Uuid.ZERO_UUID), "CreateTopics topic id is zero");
        Config createdConfig = created.config(topic).get();
        Check.equal(createdConfig.get("retention.ms").value(), "3600000", "CreateTopics config retention.ms");
        Check.equal(createdConfig.get("max.message.bytes").value(), "200000", "CreateTopics config max.message.bytes");
        Check.say("created %s: 3 partitions, replication factor %d, a topic id, retention.ms=3600000 max.message.bytes=200000", topic, rf);

        try {
            admin.createTopics(List.of(new NewTopic(topic, Optional.of(1), Optional.empty()))).all().get();
            throw new Check.Failure("creating " + topic + " twice succeeded");
        } catch (ExecutionException e) {
            Check.cause(e, TopicExistsException.class, "creating " + topic + " twice");
        }
        Check.say("creating it again: TopicExistsException");

        String validated = topic + "-validate-only";
        admin.createTopics(List.of(new NewTopic(validated, Optional.of(2), Optional.empty())),
                new CreateTopicsOptions().validateOnly(true)).all().get();
        try {
            admin.createTopics(List.of(new NewTopic(topic + "-bad-config", Optional.of(1), Optional.empty())
                    .configs(Map.of("retention.ms", "not-a-number")))).all().get();
            throw new Check.Failure("creating a topic with retention.ms=not-a-number succeeded");
        } catch (ExecutionException e) {
            Check.cause(e, InvalidConfigurationException.class, "creating a topic with retention.ms=not-a-number");
        }
        Set<String> names = admin.listTopics().names().get();
        Check.that(names.contains(topic), "listTopics %s lacks %s", names, topic);
        Check.that(!names.contains(validated), "listTopics %s has the validate-only topic %s", names, validated);
        Check.that(!names.contains(topic + "-bad-config"), "listTopics %s has the topic with a bad config", names);
        Check.say("validateOnly created nothing; retention.ms=not-a-number: InvalidConfigurationException; listTopics has the topic");

        TopicDescription desc = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
        Check.equal(desc.name(), topic, "describeTopics name");
        Check.that(!desc.isInternal(), "describeTopics: %s is internal", topic);
        Check.equal(desc.topicId(), created.topicId(topic).get(), "describeTopics topic id");
        Check.equal(desc.partitions().size(), 3, "describeTopics partitions");
        for (TopicPartitionInfo p : desc.partitions()) {
            Check.that(p.leader() != null, "partition %d has no leader", p.partition());
            Check.equal(p.replicas().size(), rf, "partition " + p.partition() + " replicas");
            Check.that(p.replicas().contains(p.leader()), "partition %d: leader %s not in replicas %s", p.partition(), p.leader(), p.replicas());
            Check.that(p.isr().contains(p.leader()), "partition %d: leader %s not in ISR %s", p.partition(), p.leader(), p.isr());
            Check.say("partition %d leader %d replicas %s isr %s", p.partition(), p.leader().id(), ids(p.replicas()), ids(p.isr()));
        }

        var resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        Config config = admin.describeConfigs(List.of(resource)).all().get().get(resource);
        checkEntry(config, "retention.ms", "3600000", ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG);
        checkEntry(config, "max.message.bytes", "200000", ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG);
        checkEntry(config, "cleanup.policy", "delete", ConfigEntry.ConfigSource.DEFAULT_CONFIG);

        admin.incrementalAlterConfigs(Map.of(resource, List.of(
                new AlterConfigOp(new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("max.message.bytes", null), AlterConfigOp.OpType.DELETE),
                new AlterConfigOp(new ConfigEntry("cleanup.policy", "compact"), AlterConfigOp.OpType.APPEND)))).all().get();
        config = admin.describeConfigs(List.of(resource)).all().get().get(resource);
        checkEntry(config, "retention.ms", "7200000", ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG);
        Check.that(config.get("max.message.bytes").source() != ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG,
                "max.message.bytes still a topic config after DELETE: %s", config.get("max.message.bytes"));
        checkEntry(config, "cleanup.policy", "delete,compact", ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG);
        Check.say("incrementalAlterConfigs: SET retention.ms=7200000, DELETE max.message.bytes, APPEND cleanup.policy=compact");

        admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(5))).all().get();
        desc = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
        Check.equal(desc.partitions().size(), 5, "partitions after createPartitions(5)");
        Check.say("createPartitions: 5 partitions");

        admin.deleteTopics(List.of(topic)).all().get();
        long deadline = Check.deadline(30_000);
        while (true) {
            try {
                admin.describeTopics(List.of(topic)).allTopicNames().get();
                Check.that(Check.before(deadline), "%s still described 30 s after deleteTopics", topic);
                Thread.sleep(100);
            } catch (ExecutionException e) {
                Check.cause(e, UnknownTopicOrPartitionException.class, "describeTopics after deleteTopics");
                break;
            }
        }
        names = admin.listTopics().names().get();
        Check.that(!names.contains(topic), "listTopics %s still has %s after deleteTopics", names, topic);
        Check.say("deleteTopics: describeTopics gives UnknownTopicOrPartitionException, listTopics lacks it");
    }

    /** Topics named by id (KIP-516): describeTopics and deleteTopics. */
    static void topicIds(org.apache.kafka.clients.admin.Admin admin, String topic) throws Exception {
        CreateTopicsResult created = admin.createTopics(List.of(new NewTopic(topic, Optional.of(2), Optional.empty())));
        created.all().get();
        Uuid id = created.topicId(topic).get();
        Uuid unknown = Uuid.randomUuid();
        try {
            admin.describeTopics(TopicCollection.ofTopicIds(List.of(unknown))).allTopicIds().get();
            throw new Check.Failure("describeTopics of a random topic id succeeded");
        } catch (ExecutionException e) {
            Check.cause(e, UnknownTopicIdException.class, "describeTopics of a random topic id");
        }
        TopicDescription desc = admin.describeTopics(TopicCollection.ofTopicIds(List.of(id))).allTopicIds().get().get(id);
        Check.equal(desc.name(), topic, "describeTopics by id: name");
        Check.equal(desc.topicId(), id, "describeTopics by id: id");
        Check.equal(desc.partitions().size(), 2, "describeTopics by id: partitions");
        Check.say("describeTopics by id: %s, 2 partitions; a random id: UnknownTopicIdException", topic);
        try {
            admin.deleteTopics(TopicCollection.ofTopicIds(List.of(unknown))).all().get();
            throw new Check.Failure("deleteTopics of a random topic id succeeded");
        } catch (ExecutionException e) {
            Check.cause(e, UnknownTopicIdException.class, "deleteTopics of a random topic id");
        }
        admin.deleteTopics(TopicCollection.ofTopicIds(List.of(id))).all().get();
        long deadline = Check.deadline(30_000);
        while (admin.listTopics().names().get().contains(topic)) {
            Check.that(Check.before(deadline), "%s still listed 30 s after deleteTopics by id", topic);
            Thread.sleep(100);
        }
        Check.say("deleteTopics by id: gone; a random id: UnknownTopicIdException");
    }

    static void checkEntry(Config config, String name, String value, ConfigEntry.ConfigSource source) {
        ConfigEntry e = config.get(name);
        Check.that(e != null, "describeConfigs has no %s", name);
        Check.equal(e.value(), value, "describeConfigs " + name);
        Check.equal(e.source(), source, "describeConfigs " + name + " source");
        Check.say("describeConfigs %s=%s (%s)", name, value, source);
    }

    static List<Integer> ids(List<Node> nodes) {
        return nodes.stream().map(Node::id).collect(Collectors.toList());
    }

    static void cluster(org.apache.kafka.clients.admin.Admin admin) throws Exception {
        var cluster = admin.describeCluster();
        String clusterId = cluster.clusterId().get();
        Check.that(clusterId != null && !clusterId.isEmpty(), "describeCluster: no cluster id");
        List<Node> nodes = new ArrayList<>(cluster.nodes().get());
        nodes.sort(Comparator.comparingInt(Node::id));
        Node controller = cluster.controller().get();
        Check.that(controller != null && nodes.contains(controller), "describeCluster: controller %s is not one of %s", controller, nodes);
        Check.say("cluster id %s", clusterId);
        for (Node n : nodes) {
            Check.say("node %d %s:%d", n.id(), n.host(), n.port());
        }
        Check.say("controller is one of the nodes");

        var dirs = admin.describeLogDirs(nodes.stream().map(Node::id).toList()).allDescriptions().get();
        for (Node n : nodes) {
            var byDir = dirs.get(n.id());
            Check.that(byDir != null && !byDir.isEmpty(), "describeLogDirs: node %d has no log dir", n.id());
            for (var d : byDir.entrySet()) {
                Check.that(d.getValue().error() == null, "describeLogDirs: node %d dir %s: %s", n.id(), d.getKey(), d.getValue().error());
            }
            Check.say("node %d: %d log dir(s), no error", n.id(), byDir.size());
        }
    }

    static void groups(org.apache.kafka.clients.admin.Admin admin, String topic, String group) throws Exception {
        GroupListing listing = admin.listGroups(ListGroupsOptions.forConsumerGroups()).all().get().stream()
                .filter(g -> g.groupId().equals(group)).findFirst()
                .orElseThrow(() -> new Check.Failure("listGroups(forConsumerGroups) lacks " + group));
        Check.equal(listing.type(), Optional.of(GroupType.CLASSIC), "listGroups type");
        Check.equal(listing.protocol(), "consumer", "listGroups protocol");
        Check.equal(listing.groupState(), Optional.of(GroupState.EMPTY), "listGroups state");
        Check.say("listGroups: %s type CLASSIC protocol consumer state EMPTY", group);

        ConsumerGroupDescription desc = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
        Check.equal(desc.groupId(), group, "describeConsumerGroups id");
        Check.equal(desc.groupState(), GroupState.EMPTY, "describeConsumerGroups state");
        Check.equal(desc.type(), GroupType.CLASSIC, "describeConsumerGroups type");
        Check.that(desc.members().isEmpty(), "describeConsumerGroups members %s", desc.members());
        Check.that(!desc.isSimpleConsumerGroup(), "describeConsumerGroups: a simple group");
        Node coordinator = desc.coordinator();
        Check.that(coordinator != null && admin.describeCluster().nodes().get().contains(coordinator),
                "describeConsumerGroups coordinator %s is not a cluster node", coordinator);
        Check.say("describeConsumerGroups: state EMPTY type CLASSIC, no members, coordinator is a cluster node");

        Map<TopicPartition, OffsetAndMetadata> offsets = offsets(admin, group);
        for (var e : offsets.entrySet()) {
            Check.equal(e.getKey().topic(), topic, "committed topic");
            Check.say("committed partition=%d offset=%d", e.getKey().partition(), e.getValue().offset());
        }

        var p0 = new TopicPartition(topic, 0);
        var p1 = new TopicPartition(topic, 1);
        admin.alterConsumerGroupOffsets(group, Map.of(p0, new OffsetAndMetadata(1, "samsa"))).all().get();
        admin.deleteConsumerGroupOffsets(group, Set.of(p1)).all().get();
        Map<TopicPartition, OffsetAndMetadata> after = offsets(admin, group);
        Check.equal(after.get(p0), new OffsetAndMetadata(1, Optional.empty(), "samsa"), "partition 0 after alterConsumerGroupOffsets");
        Check.that(!after.containsKey(p1), "partition 1 after deleteConsumerGroupOffsets: %s", after.get(p1));
        for (var e : offsets.entrySet()) {
            if (!e.getKey().equals(p0) && !e.getKey().equals(p1)) {
                Check.equal(after.get(e.getKey()), e.getValue(), "untouched " + e.getKey());
            }
        }
        Check.say("alterConsumerGroupOffsets: partition 0 at 1 (metadata \"samsa\"); deleteConsumerGroupOffsets: partition 1 gone");

        admin.deleteConsumerGroups(List.of(group)).all().get();
        boolean listed = admin.listGroups().all().get().stream().anyMatch(g -> g.groupId().equals(group));
        Check.that(!listed, "listGroups still has %s after deleteConsumerGroups", group);
        Check.that(offsets(admin, group).isEmpty(), "committed offsets of %s after deleteConsumerGroups: %s", group, offsets(admin, group));
        Check.say("deleteConsumerGroups: not listed, no committed offsets");
    }

    /** The group's committed offsets, by partition. */
    static Map<TopicPartition, OffsetAndMetadata> offsets(org.apache.kafka.clients.admin.Admin admin, String group) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> out = new TreeMap<>(Comparator.comparing(TopicPartition::topic).thenComparingInt(TopicPartition::partition));
        admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().forEach((tp, o) -> {
            if (o != null) {
                out.put(tp, o);
            }
        });
        return out;
    }
}
