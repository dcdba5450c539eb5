using System.Net;
using Akka;
using Akka.Actor;
using Akka.Cluster.Tools.Singleton;
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
        IngestSettings settings, IRelayResolver resolver, INativeEgress? egress, NodeMetrics metrics, TimeProvider clock,
        LingeringTunnels lingering)
    {
        return (system, registry) =>
        {
            // Every tunnel of this node is received by one reactor (a fixed set of threads on Linux).
            var receiver = ITunnelReceiver.Create(settings.TunnelSockets, metrics);
            // The budget's proxy is registered after the region (the budget needs the region): look it up when used.
            var dependencies = new SourceActorDependencies(
                resolver,
                target => AmtTunnelActor.Props(target, settings.Tunnels, egress, metrics, clock, receiver, settings.TunnelSockets, lingering),
                settings.Sources,
                metrics,
                clock,
                HandedOff: source => registry.Get<BandwidthBudgetActor>().Tell(new BudgetProtocol.SourceHandedOff(source)));
            // Shutdown: the lingering tunnels of sources handed off in the sharding phase keep forwarding until the new
            // homes carry them; the actor system ends only when they have left (or the linger has run out).
            CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate, "tunnels-linger", async () =>
            {
                await Task.WhenAny(lingering.Drained, Task.Delay(settings.Sources.HandOffLinger + TimeSpan.FromSeconds(2)));
                lingering.ReleaseAll();
                return Done.Instance;
            });
            system.RegisterOnTermination(receiver.Dispose);
            return entityId => SourceActor.Props(IPAddress.Parse(entityId), dependencies);
        };
    }

    /// <summary>One PimListenerActor per configured downstream interface.</summary>
    public static AkkaConfigurationBuilder AddPimListeners(this AkkaConfigurationBuilder akka, IngestSettings settings,
        NodeMetrics metrics, TimeProvider clock, PimListeners listeners) =>
        akka.WithActors((system, registry) =>
        {
            var budget = registry.Get<BandwidthBudgetActor>();
            foreach (var pim in settings.Pim)
            {
                var listener = system.ActorOf(PimListenerActor.Props(pim, budget, settings.Node.Name, metrics, clock), $"pim-{pim.Name}");
                listeners.Add(listener);
                if (pim.ClusterAddress is { } clusterAddress)
                {
                    // One live member holds the LAN's cluster neighbour address; the singleton moves it on a crash or
                    // a leave (the hand-over stops the old holder before the new one starts, without a goodbye).
                    system.ActorOf(ClusterSingletonManager.Props(
                            ClusterAddressActor.Props(pim, metrics),
                            PoisonPill.Instance,
                            ClusterSingletonManagerSettings.Create(system).WithRole(IngestAkka.ClusterAddressRole(clusterAddress)).WithSingletonName("holder")),
                        ClusterAddressActor.SingletonName(clusterAddress));
                }
                // Shutdown, step 1 of 3: goodbye Hellos, before the cluster leave moves the shards away and the
                // tunnels send their BLOCKs (steps 2 and 3 are Akka's own cluster-leave and sharding phases).
                CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseBeforeServiceUnbind, $"pim-goodbye-{pim.Name}",
                    async () =>
                    {
                        try
                        {
                            await listener.GracefulStop(TimeSpan.FromSeconds(3));
                        }
                        catch (TaskCanceledException)
                        {
                            // Stopped or not, shutdown goes on.
                        }
                        return Done.Instance;
                    });
            }
        });

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

/// <summary>The node's PIM listeners, for the admin API.</summary>
public sealed class PimListeners
{
    private readonly List<IActorRef> _listeners = [];

    public IReadOnlyList<IActorRef> All
    {
        get
        {
            lock (_listeners)
            {
                return [.. _listeners];
            }
        }
    }

    public void Add(IActorRef listener)
    {
        lock (_listeners)
        {
            _listeners.Add(listener);
        }
    }
}
