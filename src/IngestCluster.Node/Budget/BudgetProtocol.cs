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
