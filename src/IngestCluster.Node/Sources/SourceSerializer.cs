using System.Collections.Immutable;
using Akka.Actor;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Hosting.Wire;

namespace IngestCluster.Node.Sources;

/// <summary>The sources stage's wire format: the budget's desired groups and the status asks.</summary>
public sealed class SourceSerializer(ExtendedActorSystem system, NodeMetrics? metrics = null)
    : WireSerializer(system, metrics, "sources", WireTypes)
{
    public const string Name = "ingest-sources";

    public override int Identifier => 4103;

    public static readonly IReadOnlyList<WireType> WireTypes =
    [
        WireType.Of<SourceProtocol.EnsureGroups>("eg",
            (w, m) => w.Address(m.Source).List(m.Groups, (w, g) => w.Address(g)),
            (ref WireReader r) => new SourceProtocol.EnsureGroups(r.Address(), r.Addresses())),
        WireType.Of<SourceProtocol.Prepare>("pr",
            (w, m) => w.Address(m.Source),
            (ref WireReader r) => new SourceProtocol.Prepare(r.Address())),
        WireType.Of<SourceProtocol.GetSourceStatus>("gs",
            (w, m) => w.Address(m.Source),
            (ref WireReader r) => new SourceProtocol.GetSourceStatus(r.Address())),
        // "ss" (before the counters) is still read, from members not yet upgraded; it is never written again.
        WireType.Legacy<SourceProtocol.SourceStatus>("ss", (ref WireReader r) => ReadStatus(ref r)),
        WireType.Of<SourceProtocol.SourceStatus>("s2",
            (w, m) => w.String(m.Source).String(m.State).Bool(m.Relay is not null).String(m.Relay ?? "").String(m.Detail)
                .List(m.Groups, (w, g) => w.String(g)).List(m.HeldDownRelays, (w, h) => w.String(h)).String(m.Node)
                .List(m.Counters.IsDefault ? [] : m.Counters, (w, c) => w.String(c.Group).Int(c.Packets).Int(c.Bytes).Int(c.Drops)),
            (ref WireReader r) =>
            {
                var status = ReadStatus(ref r);
                int count = r.Count();
                var counters = ImmutableArray.CreateBuilder<SourceProtocol.GroupCounters>(count);
                for (int i = 0; i < count; i++)
                {
                    counters.Add(new SourceProtocol.GroupCounters(r.String(), r.Int(), r.Int(), r.Int()));
                }
                return status with { Counters = counters.MoveToImmutable() };
            }),
    ];

    /// <summary>The fields <c>ss</c> and <c>s2</c> share, in order; the counters (s2 only) follow.</summary>
    private static SourceProtocol.SourceStatus ReadStatus(ref WireReader r)
    {
        string source = r.String(), state = r.String();
        bool hasRelay = r.Bool();
        string relay = r.String();
        return new SourceProtocol.SourceStatus(source, state, hasRelay ? relay : null, r.String(), r.Strings(), r.Strings(), r.String(), []);
    }
}
