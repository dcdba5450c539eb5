using System.Collections.Immutable;
using Akka.Actor;
using IngestCluster.Protocols;

namespace IngestCluster.Node.Budget;

public static class BudgetProtocol
{
    /// <summary>Marks the budget's messages and events that cross nodes or are persisted; <see cref="BudgetSerializer"/>
    /// carries them.</summary>
    public interface IBudgetWire;

    /// <summary>Asks the budget for the admitted flows; answered with <see cref="AdmittedFlows"/>.</summary>
    public sealed class GetAdmitted : IBudgetWire
    {
        public static readonly GetAdmitted Instance = new();
        private GetAdmitted() { }
    }

    public sealed record AdmittedFlows(ImmutableArray<SourceGroup> Flows, ImmutableArray<string> Origins) : IBudgetWire;

    /// <summary>Asks the budget for its whole state; answered with <see cref="BudgetReport"/>.</summary>
    public sealed class GetBudget : IBudgetWire
    {
        public static readonly GetBudget Instance = new();
        private GetBudget() { }
    }

    /// <summary>Sets the limit at run time (persisted: it outlives a failover and a restart); null hands it back
    /// to <c>Budget:Limit</c>. Answered with the <see cref="BudgetReport"/> once the change is persisted.</summary>
    public sealed record SetLimit(long? BitsPerSecond) : IBudgetWire;

    /// <summary>An admitted flow as the budget sees it: bitrate and offload in bit/s, the population now demanding it
    /// (0 while no origin claims it), and where its bitrate came from.</summary>
    public readonly record struct AdmittedView(SourceGroup Flow, long BitsPerSecond, long OffloadBitsPerSecond, int Population, string BitrateFrom);

    /// <summary>A held-down flow: until when, why (the <see cref="BlockReason"/> name) and the sentence for people,
    /// and the population demanding it now (0: nobody).</summary>
    public readonly record struct BlockedView(SourceGroup Flow, DateTimeOffset Until, string Reason, string Detail, int Population);

    /// <summary>A demanded flow waiting for its metadata, and since when.</summary>
    public readonly record struct PendingView(SourceGroup Flow, DateTimeOffset Since);

    /// <summary>The budget's state. <paramref name="Limit"/> is null when none is set (everything is admitted);
    /// <paramref name="LimitFrom"/> is <c>settings</c>, <c>admin</c> or <c>none</c>.</summary>
    public sealed record BudgetReport(
        long? Limit,
        string LimitFrom,
        long Used,
        ImmutableArray<AdmittedView> Admitted,
        ImmutableArray<BlockedView> Blocked,
        ImmutableArray<PendingView> Pending,
        ImmutableArray<string> Origins) : IBudgetWire;

    /// <summary>The budget's own timer: re-send every source's desired groups, so lost messages heal. Local.</summary>
    public sealed class ReconcileTick : INoSerializationVerificationNeeded
    {
        public static readonly ReconcileTick Instance = new();
        private ReconcileTick() { }
    }

    /// <summary>A source entity is being moved to another node (sharding's hand-off): tell the source its groups
    /// again now, so its new home starts the tunnel while the old one lingers.</summary>
    public sealed record SourceHandedOff(System.Net.IPAddress Source) : IBudgetWire;

    /// <summary>The budget's own timer: push every admitted source's groups once more (after a membership change, the
    /// shard coordinator may not have re-homed the dead node's shards at the first push). Local.</summary>
    public sealed record PushAgain(System.Net.IPAddress? Source) : INoSerializationVerificationNeeded;

    /// <summary>The budget's own message: decide now for the demand changes received so far. Local.</summary>
    public sealed class DecideNow : INoSerializationVerificationNeeded
    {
        public static readonly DecideNow Instance = new();
        private DecideNow() { }
    }
}
