using Akka.Cluster.Hosting;
using Akka.Hosting;
using IngestCluster.Node.Admin;
using IngestCluster.Node.Egress;
using IngestCluster.Node.Sources;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace IngestCluster.Node.Hosting;

/// <summary>The node as one web application: settings, the Akka stages, the admin API. Program.cs runs it; tests start
/// the same thing in-process (several on loopback ports make a cluster) and talk to it over real HTTP.</summary>
public static class NodeHost
{
    /// <summary>Builds the node from <paramref name="args"/> (and <c>appsettings.json</c>, <c>INGEST_</c> variables),
    /// with <paramref name="overrides"/> on top when given. Throws <see cref="NodeStartException"/> with an operator's
    /// message when the settings or the egress are wrong.</summary>
    public static NodeApplication Build(string[] args, IReadOnlyDictionary<string, string?>? overrides = null,
        string? contentRoot = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = contentRoot ?? AppContext.BaseDirectory,
        });
        builder.Configuration.AddEnvironmentVariables("INGEST_").AddCommandLine(args);
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        IngestSettings settings;
        try
        {
            settings = IngestSettings.Read(builder.Configuration, out var reader);
            reader.ThrowIfInvalid();
        }
        catch (SettingsException e)
        {
            throw new NodeStartException(e.Message);
        }

        // One switch for both worlds: Microsoft.Extensions.Logging's filter and Akka's own level follow it
        // (PUT /api/log-level).
        var levels = new LogLevelSwitch(LogLevel.Information);
        builder.Logging.ClearProviders()
            .SetMinimumLevel(LogLevel.Trace)
            .AddFilter((_, category, level) => levels.IsEnabled(category, level));
        // Logging:Format: "simple" (a line per event, for people) or "json" (an object per line, for log shippers: the
        // event's category, its id and literal name, the message and its structured arguments).
        string format = builder.Configuration["Logging:Format"] ?? "simple";
        switch (format.ToLowerInvariant())
        {
            case "simple":
                builder.Logging.AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "HH:mm:ss.fff ";
                });
                break;
            case "json":
                builder.Logging.AddJsonConsole(o =>
                {
                    o.UseUtcTimestamp = true;
                    o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                    o.JsonWriterOptions = new System.Text.Json.JsonWriterOptions { Indented = false };
                });
                break;
            default:
                throw new NodeStartException($"Logging:Format: '{format}' is not a log format; use simple or json");
        }

        var metrics = new NodeMetrics(settings.Admin.MetricsFlowLimit);
        var export = new PrometheusExport(metrics);
        var clock = TimeProvider.System;
        INativeEgress? egress = null;
        if (settings.Egress.Interface is { } egressInterface)
        {
            try
            {
                // auto: a packet socket where the interface allows one (it measured better), else the raw socket.
                var kind = settings.Egress.Socket
                    ?? (NativeEgress.CanUsePacketSocket(egressInterface, out _) ? EgressSocket.Packet : EgressSocket.Raw);
                egress = new NativeEgress(egressInterface, metrics, kind);
                settings = settings with { Egress = settings.Egress with { Socket = kind } };
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or ArgumentException or InvalidOperationException or UnauthorizedAccessException)
            {
                throw new NodeStartException($"Egress:Interface = \"{egressInterface}\": cannot open the egress socket on it ({e.Message}); " +
                    "it needs an existing interface and CAP_NET_RAW (root)");
            }
        }

        // Operator relays: the configured ones, and those added through the admin API (kept in the data directory).
        var overrideStore = RelayOverrideStore.Open(settings.Sources.Overrides,
            Path.Combine(settings.Node.DataDirectory, RelayOverrideStore.FileName));
        settings = settings with { Sources = settings.Sources with { OverrideStore = overrideStore } };

        var resolver = new DriadResolver(settings.Dns, metrics, clock);
        builder.WebHost.UseUrls(settings.Admin.Url);
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(metrics);
        builder.Services.AddSingleton(export);
        builder.Services.AddSingleton(levels);
        builder.Services.AddSingleton(overrideStore);
        var pimListeners = new PimListeners();
        builder.Services.AddSingleton(pimListeners);
        var clusterEvents = new ClusterEventLog(capacity: 1000);
        builder.Services.AddSingleton(clusterEvents);
        builder.Services.AddHealthChecks();
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, IngestCluster.Admin.Contracts.AdminJson.Default));
        builder.Services.AddAkka(settings.Cluster.SystemName, (akka, _) =>
        {
            akka.AddSetup(new NodeMetricsSetup(metrics))
                .ConfigureLoggers(loggers =>
                {
                    loggers.ClearLoggers();
                    loggers.AddLogger<AkkaLoggerBridge>();
                })
                .WithActorSystemLivenessCheck(tags: [AdminEndpoints.LiveTag])
                .WithAkkaClusterReadinessCheck(tags: [AdminEndpoints.ReadyTag])
                .AddIngestCluster(settings, metrics, clock, NodeStages.SourceEntities(settings, resolver, egress, metrics, clock, new Tunnels.LingeringTunnels()))
                .AddPimListeners(settings, metrics, clock, pimListeners)
                .AddJoinfileDemand(settings, metrics)
                .AddClusterEventLog(clusterEvents)
                .AddLogLevelSwitch(levels);
        });

        var app = builder.Build();
        app.MapIngestAdmin(settings);
        ClusterMetrics.Observe(metrics, app.Services);
        return new NodeApplication(app, settings, egress, [export, metrics]);
    }
}

/// <summary>A built node: run it, or start and stop it (tests).</summary>
public sealed class NodeApplication(WebApplication app, IngestSettings settings, INativeEgress? egress, IReadOnlyList<IDisposable>? owned = null)
    : IAsyncDisposable
{
    public WebApplication App { get; } = app;

    public IngestSettings Settings { get; } = settings;

    public IServiceProvider Services => App.Services;

    public void LogStarting()
    {
        var log = App.Services.GetRequiredService<ILoggerFactory>().CreateLogger("IngestCluster.Node");
        log.LogInformation("node.starting: {Name}, data in {DataDirectory}, admin API on {AdminUrl}, demand from {Demand}, egress {Egress}",
            Settings.Node.Name, Settings.Node.DataDirectory, Settings.Admin.Url,
            string.Join(", ", Settings.Pim.Select(p => "PIM on " + p.Name).Append(Settings.Joinfile.Path ?? "").Where(d => d.Length > 0)),
            Settings.Egress.Interface is { } egressInterface
                ? $"{egressInterface} ({(Settings.Egress.Socket == EgressSocket.Packet ? "packet" : "raw")} socket)"
                : "none (tunnelled data is counted and dropped)");
    }

    public async Task RunAsync()
    {
        LogStarting();
        await App.RunAsync();
    }

    public Task StartAsync(CancellationToken cancellation = default) => App.StartAsync(cancellation);

    public Task StopAsync(CancellationToken cancellation = default) => App.StopAsync(cancellation);

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        egress?.Dispose();
        foreach (var disposable in owned ?? [])
        {
            disposable.Dispose();
        }
    }
}

/// <summary>The node cannot start; the message is for the operator (exit code 2).</summary>
public sealed class NodeStartException(string message) : Exception(message);
