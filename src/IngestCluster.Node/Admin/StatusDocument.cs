using Akka.Actor;
using Akka.Cluster;
using Akka.Hosting;
using IngestCluster.Node.Budget;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Sources;
using Microsoft.Extensions.DependencyInjection;

namespace IngestCluster.Node.Admin;

/// <summary>The first admin resource, <c>/status</c>: one JSON document of everything (cluster, budget, sources,
/// PIM, journal, counters), kept for the lab tests and scripts that read it by property name. New users read the typed
/// resources of <see cref="AdminEndpoints"/> instead.</summary>
internal static class StatusDocument
{
    private static async Task<bool> HeldHere(ActorSystem system, string path, TimeSpan timeout)
    {
        try
        {
            var identity = await system.ActorSelection(path).Ask<ActorIdentity>(new Identify(path), timeout);
            return identity.Subject is not null;
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return false;
        }
    }

    public static async Task<object> Build(IServiceProvider services)
    {
        var system = services.GetRequiredService<ActorSystem>();
        var registry = services.GetRequiredService<ActorRegistry>();
        var metrics = services.GetRequiredService<NodeMetrics>();
        var settings = services.GetRequiredService<IngestSettings>();
        var timeout = TimeSpan.FromSeconds(3);

        var cluster = Cluster.Get(system);
        object? budget = null;
        var sources = new List<object>();
        try
        {
            var report = await registry.Get<BandwidthBudgetActor>().Ask<BudgetProtocol.BudgetReport>(BudgetProtocol.GetBudget.Instance, timeout);
            budget = BudgetEndpoints.View(report);
            var region = registry.Get<SourceRegion>();
            var asks = report.Admitted.Select(a => a.Flow.Source).Distinct()
                .Select(s => region.Ask<SourceProtocol.SourceStatus>(new SourceProtocol.GetSourceStatus(s), timeout));
            foreach (var status in await Task.WhenAll(asks))
            {
                sources.Add(status);
            }
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            budget ??= new { error = "the budget singleton did not answer in time: " + e.Message };
        }

        var pim = new List<object>();
        foreach (var listener in services.GetRequiredService<PimListeners>().All)
        {
            try
            {
                var state = await listener.Ask<Demand.PimState>(Demand.GetPimState.Instance, timeout);
                pim.Add(new
                {
                    @interface = state.Interface,
                    generationId = state.GenerationId,
                    neighbors = state.Neighbors.Select(n => new { address = n.Address.ToString(), generationId = n.GenerationId, drPriority = n.DrPriority, expiresAt = n.ExpiresAt }),
                    joined = state.Demand.Select(d => new { source = d.Flow.Source.ToString(), group = d.Flow.Group.ToString(), state = d.State.ToString() }),
                });
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                pim.Add(new { error = $"{listener.Path.Name} did not answer: {e.Message}" });
            }
        }

        object? journal = null;
        object? upstreams = null;
        try
        {
            var facts = await registry.Get<ClusterFactsActor>().Ask<ClusterFacts.Facts>(ClusterFacts.GetFacts.Instance, timeout);
            journal = new
            {
                provider = settings.Persistence.Provider,
                identity = facts.OwnJournal,
                error = facts.JournalError,
                mismatch = facts.JournalMismatch,
                members = facts.JournalByMember.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => new { member = kv.Key, identity = kv.Value }),
            };
            upstreams = facts.Upstreams.Select(a => a.ToString()).Order(StringComparer.Ordinal);
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            journal = new { error = "cluster facts did not answer: " + e.Message };
        }

        // What this node holds right now: the budget singleton, and which LANs' cluster neighbour addresses.
        bool budgetHere = await HeldHere(system, "/user/budget/budget/budget", timeout);
        var addressesHere = new List<string>();
        foreach (var address in settings.Pim.Select(p => p.ClusterAddress).OfType<System.Net.IPAddress>())
        {
            if (await HeldHere(system, $"/user/{Demand.ClusterAddressActor.SingletonName(address)}/holder", timeout))
            {
                addressesHere.Add(address.ToString());
            }
        }

        return new
        {
            node = settings.Node.Name,
            holds = new { budget = budgetHere, clusterAddresses = addressesHere },
            journal,
            memberDownstreamAddresses = upstreams,
            pim,
            address = cluster.SelfAddress.ToString(),
            members = cluster.State.Members.Select(m => new { address = m.Address.ToString(), status = m.Status.ToString(), roles = m.Roles }),
            budget,
            sources,
            counters = metrics.Snapshot().Select(c => new { name = c.Name, labels = c.Labels, value = c.Value }),
        };
    }
}
