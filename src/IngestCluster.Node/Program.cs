using Akka.Hosting;
using IngestCluster.Node.Admin;
using IngestCluster.Node.Egress;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Sources;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

// IngestCluster node: settings from appsettings.json (next to the program), INGEST_-prefixed environment
// variables (INGEST_Demand__Joinfile=...) and the command line (--Demand:Joinfile=...), in that order of
// precedence, lowest first. Every key, default and unit: docs/settings.md.
var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Configuration.AddEnvironmentVariables("INGEST_").AddCommandLine(args);
builder.Logging.ClearProviders().AddSimpleConsole(o =>
{
    o.SingleLine = true;
    o.TimestampFormat = "HH:mm:ss.fff ";
});

IngestSettings settings;
try
{
    settings = IngestSettings.Read(builder.Configuration, out var reader);
    reader.ThrowIfInvalid();
}
catch (SettingsException e)
{
    Console.Error.WriteLine($"ingest: {e.Message}");
    return 2;
}

var metrics = new NodeMetrics();
var clock = TimeProvider.System;
INativeEgress? egress = null;
if (settings.Egress.Interface is { } egressInterface)
{
    try
    {
        egress = new NativeEgress(egressInterface, metrics);
    }
    catch (Exception e) when (e is System.Net.Sockets.SocketException or ArgumentException or InvalidOperationException or UnauthorizedAccessException)
    {
        Console.Error.WriteLine($"ingest: Egress:Interface = \"{egressInterface}\": cannot open a raw socket on it ({e.Message}); " +
            "it needs an existing interface and CAP_NET_RAW (root)");
        return 2;
    }
}

var resolver = new DriadResolver(settings.Dns, metrics, clock);
builder.WebHost.UseUrls(settings.Admin.Url);
builder.Services.AddSingleton(settings);
builder.Services.AddSingleton(metrics);
var pimListeners = new PimListeners();
builder.Services.AddSingleton(pimListeners);
builder.Services.AddAkka(settings.Cluster.SystemName, (akka, _) =>
{
    akka.ConfigureLoggers(loggers =>
        {
            loggers.ClearLoggers();
            loggers.AddLoggerFactory();
        })
        .AddIngestCluster(settings, metrics, clock, NodeStages.SourceEntities(settings, resolver, egress, metrics, clock, new IngestCluster.Node.Tunnels.LingeringTunnels()))
        .AddPimListeners(settings, metrics, clock, pimListeners)
        .AddJoinfileDemand(settings, metrics);
});

var app = builder.Build();
app.MapIngestAdmin(settings);
var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("IngestCluster.Node");
log.LogInformation("node.starting: {Name}, data in {DataDirectory}, admin API on {AdminUrl}, demand from {Demand}, egress {Egress}",
    settings.Node.Name, settings.Node.DataDirectory, settings.Admin.Url,
    string.Join(", ", settings.Pim.Select(p => "PIM on " + p.Name).Append(settings.Joinfile.Path ?? "").Where(d => d.Length > 0)), settings.Egress.Interface ?? "none (tunnelled data is counted and dropped)");
await app.RunAsync();
egress?.Dispose();
return 0;
