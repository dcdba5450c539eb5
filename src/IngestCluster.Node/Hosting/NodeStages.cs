using System.Net;
using Akka.Actor;
using Akka.Hosting;
using IngestCluster.Node.Budget;
using IngestCluster.Node.Demand;
using IngestCluster.Node.Egress;
using IngestCluster.Node.Sources;
using IngestCluster.Node.Tunnels;

namespace IngestCluster.Node.Hosting;

/// <summary>The node's stages, registered in flow order: demand → budget → sources → tunnels → egress.</summary>
public static class NodeStages
{
    /// <summary>Props of a source entity, with its tunnels going out of <paramref name="egress"/>.</summary>
    public static Func<ActorSystem, IActorRegistry, Func<string, Props>> SourceEntities(
        IngestSettings settings, IRelayResolver resolver, INativeEgress? egress, NodeMetrics metrics, TimeProvider clock)
    {
        var dependencies = new SourceActorDependencies(
            resolver,
            target => AmtTunnelActor.Props(target, settings.Tunnels, egress, metrics, clock),
            settings.Sources,
            metrics,
            clock);
        return (_, _) => entityId => SourceActor.Props(IPAddress.Parse(entityId), dependencies);
    }

    /// <summary>The node-local demand origins that are not PIM: the joinfile watcher and the admitted-set export.</summary>
    public static AkkaConfigurationBuilder AddJoinfileDemand(this AkkaConfigurationBuilder akka, IngestSettings settings, NodeMetrics metrics) =>
        akka.WithActors((system, registry) =>
        {
            var budget = registry.Get<BandwidthBudgetActor>();
            if (settings.Joinfile.Path is { } path)
            {
                system.ActorOf(JoinfileDemandActor.Props(path, settings.Joinfile.Debounce, settings.Joinfile.SnapshotInterval,
                    budget, $"{settings.Node.Name}/joinfile/{path}", metrics), "joinfile-demand");
            }
            if (settings.Joinfile.ExportAdmittedTo is { } export)
            {
                system.ActorOf(AdmittedJoinfileWriter.Props(export, budget, TimeSpan.FromSeconds(1)), "joinfile-export");
            }
        });
}
