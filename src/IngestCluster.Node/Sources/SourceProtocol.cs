using System.Collections.Immutable;
using System.Net;

namespace IngestCluster.Node.Sources;

/// <summary>Every message for a source entity names its source; the shard extractor routes on it.</summary>
public interface ISourceMessage
{
    /// <summary>The entity id: the source address in its canonical text form.</summary>
    string SourceKey { get; }
}

public static class SourceProtocol
{
    /// <summary>Marks the sources stage's messages that cross nodes (the budget and the admin API on one node, the
    /// entity on another); <see cref="SourceSerializer"/> carries them.</summary>
    public interface ISourceWire;

    /// <summary>The full set of groups the budget wants joined for this source. Idempotent, re-sent on every
    /// reconcile tick. An empty set means: leave everything, then passivate.</summary>
    public sealed record EnsureGroups(IPAddress Source, ImmutableArray<IPAddress> Groups) : ISourceMessage, ISourceWire
    {
        public string SourceKey => Source.ToString();
    }

    /// <summary>A flow of this source waits for the budget to decide (its CBACC metadata is being fetched): look up the
    /// relay and open the tunnel now, joining nothing, so that the lookup and the AMT handshake run while the metadata
    /// is fetched rather than after the decision. Not a decision: only <see cref="EnsureGroups"/> joins anything, and
    /// the entity gives the preparation up after <c>Sources:PrepareFor</c> if no groups follow.</summary>
    public sealed record Prepare(IPAddress Source) : ISourceMessage, ISourceWire
    {
        public string SourceKey => Source.ToString();
    }

    /// <summary>Asks a source entity for its state; answered with <see cref="SourceStatus"/>.</summary>
    public sealed record GetSourceStatus(IPAddress Source) : ISourceMessage, ISourceWire
    {
        public string SourceKey => Source.ToString();
    }

    /// <summary>A source's state for people and tests. <paramref name="State"/> is one of the
    /// <c>SourceState</c> names; <paramref name="Detail"/> says why, e.g. "no AMTRELAY record for 10.0.5.2";
    /// <paramref name="Node"/> is the cluster address of the node hosting the entity (and so its tunnel);
    /// <paramref name="Counters"/> are that node's per-(S,G) counters of the groups, so every node's admin API can show
    /// them (empty from a member older than the <c>s2</c> manifest).</summary>
    public sealed record SourceStatus(
        string Source,
        string State,
        string? Relay,
        string Detail,
        ImmutableArray<string> Groups,
        ImmutableArray<string> HeldDownRelays,
        string Node = "",
        ImmutableArray<GroupCounters> Counters = default) : ISourceWire;

    /// <summary>A group's packets and bytes forwarded onto the LAN and packets dropped (TTL, send errors), as the
    /// hosting node counts them.</summary>
    public readonly record struct GroupCounters(string Group, long Packets, long Bytes, long Drops);

    /// <summary>Sharding's hand-off stop message (a graceful leave or a rebalance moves this entity away). The entity
    /// stops at once and leaves its tunnel lingering, still forwarding, until the new home's tunnel carries the flow
    /// (make before break). Sent by the local region only.</summary>
    public sealed class HandOff : Akka.Actor.INoSerializationVerificationNeeded
    {
        public static readonly HandOff Instance = new();
        private HandOff() { }
    }
}
