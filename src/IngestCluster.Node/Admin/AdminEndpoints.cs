using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.Cluster;
using IngestCluster.Admin.Contracts;
using IngestCluster.Node.Hosting;
using IngestCluster.Node.Sources;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Prometheus;

namespace IngestCluster.Node.Admin;

/// <summary>
/// The node's HTTP admin API (127.0.0.1:9110 by default; docs/operations.md): the typed resources of
/// <see cref="AdminRoutes"/> (records in IngestCluster.Admin.Contracts), the status page at <c>/</c>, <c>/metrics</c>
/// (Prometheus text), <c>/alive</c> and <c>/ready</c> (Akka.Hosting's health checks), <c>/healthz</c> and the older
/// <c>/status</c> document. When <c>Admin:Token</c> is set every request but the page and the health checks needs
/// <c>Authorization: Bearer &lt;token&gt;</c>.
/// </summary>
public static class AdminEndpoints
{
    public const string LiveTag = "live";
    public const string ReadyTag = "ready";

    private static readonly JsonSerializerOptions LegacyJson = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static WebApplication MapIngestAdmin(this WebApplication app, IngestSettings settings)
    {
        if (settings.Admin.Token is { } token)
        {
            app.Use(RequireToken(token));
        }

        app.MapGet("/", () => Results.Content(StatusPage.Html, "text/html; charset=utf-8"));
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapHealthChecks(AdminRoutes.Alive, new HealthCheckOptions { Predicate = r => r.Tags.Contains(LiveTag) });
        app.MapHealthChecks(AdminRoutes.Ready, new HealthCheckOptions { Predicate = r => r.Tags.Contains(ReadyTag) });
        // The Prometheus text format, written by prometheus-net from this node's meter (Hosting/PrometheusExport.cs).
        app.MapMetrics("/metrics", app.Services.GetRequiredService<PrometheusExport>().Registry);
        app.MapBudgetAdmin();
        app.MapCaptureAdmin();
        app.MapGet("/status", async (IServiceProvider services) =>
            Results.Text(JsonSerializer.Serialize(await StatusDocument.Build(services), LegacyJson), "application/json"));

        app.MapGet(AdminRoutes.Cluster, (ActorSystem system) => Results.Json(AdminQueries.Cluster(system), AdminJson.Default.ClusterView));
        app.MapPost(AdminRoutes.ClusterLeave, LeaveAsync);
        app.MapPost(AdminRoutes.ClusterDown, DownAsync);
        app.MapPost(AdminRoutes.ClusterJoin, JoinAsync);
        app.MapGet(AdminRoutes.ClusterEvents, (ClusterEventLog log, long? after) =>
            Results.Json(log.After(after ?? 0), AdminJson.Default.ClusterEventsView));

        app.MapGet(AdminRoutes.Sharding, (ActorSystem system) => Results.Json(AdminQueries.Sharding(system), AdminJson.Default.ShardingView));
        app.MapGet("/api/sharding/{typeName}/region", async (ActorSystem system, string typeName) =>
            await AdminQueries.RegionAsync(system, typeName) is { } region
                ? Results.Json(region, AdminJson.Default.RegionView)
                : NotFound($"no shard region of type '{typeName}' on this node; see {AdminRoutes.Sharding}"));
        app.MapGet("/api/sharding/{typeName}/shards", async (ActorSystem system, string typeName) =>
            await AdminQueries.ClusterShardsAsync(system, typeName) is { } shards
                ? Results.Json(shards, AdminJson.Default.ClusterShardsView)
                : NotFound($"no shard region of type '{typeName}' on this node; see {AdminRoutes.Sharding}"));

        app.MapGet(AdminRoutes.Actors, (ActorSystem system, int? depth) =>
            depth is < 1 or > 20
                ? BadRequest("depth must be from 1 to 20")
                : Results.Json(AdminQueries.Actors(system, depth ?? 3), AdminJson.Default.ActorTreeView));

        app.MapGet(AdminRoutes.Flows, async (IServiceProvider services) => Results.Json(await AdminQueries.FlowsAsync(services), AdminJson.Default.FlowsView));
        app.MapGet(AdminRoutes.Sources, async (IServiceProvider services) => Results.Json(await AdminQueries.SourcesAsync(services), AdminJson.Default.SourcesView));
        app.MapGet(AdminRoutes.Tunnels, async (IServiceProvider services) => Results.Json(await AdminQueries.TunnelsAsync(services), AdminJson.Default.TunnelsView));
        app.MapGet(AdminRoutes.Pim, async (IServiceProvider services) => Results.Json(await AdminQueries.PimAsync(services), AdminJson.Default.PimView));

        app.MapGet(AdminRoutes.RelayOverrides, (RelayOverrideStore store, IngestSettings s) =>
            Results.Json(AdminQueries.Overrides(store, s), AdminJson.Default.RelayOverridesView));
        app.MapPost(AdminRoutes.RelayOverrides, AddOverrideAsync);
        app.MapDelete(AdminRoutes.RelayOverrides, (RelayOverrideStore store, IngestSettings s, string? prefix) =>
        {
            if (string.IsNullOrWhiteSpace(prefix))
            {
                return BadRequest("name the override: ?prefix=10.0.5.0/24");
            }
            if (!store.Remove(prefix, out string error))
            {
                return error.StartsWith("no relay override", StringComparison.Ordinal) ? NotFound(error) : BadRequest(error);
            }
            return Results.Json(AdminQueries.Overrides(store, s), AdminJson.Default.RelayOverridesView);
        });

        app.MapGet(AdminRoutes.LogLevel, (LogLevelSwitch levels) => Results.Json(new LogLevelView(levels.Minimum.ToString()), AdminJson.Default.LogLevelView));
        app.MapPut(AdminRoutes.LogLevel, async (HttpContext context, LogLevelSwitch levels) =>
        {
            var request = await ReadAsync(context, AdminJson.Default.LogLevelView);
            if (request is null || !LogLevelSwitch.TryParseLevel(request.Level, out var level))
            {
                return BadRequest("expected {\"level\": \"Trace|Debug|Information|Warning|Error|Critical\"}");
            }
            levels.Set(level);
            return Results.Json(new LogLevelView(levels.Minimum.ToString()), AdminJson.Default.LogLevelView);
        });
        return app;
    }

    /// <summary>Every request but the page and the health probes carries the token. The comparison takes the same time
    /// whatever the guess (<see cref="CryptographicOperations.FixedTimeEquals"/> over fixed-length hashes, so not even
    /// the length leaks), and neither the expected nor the offered token is logged or echoed.</summary>
    internal static Func<HttpContext, RequestDelegate, Task> RequireToken(string token)
    {
        byte[] expected = SHA256.HashData(Encoding.UTF8.GetBytes(token));
        return async (context, next) =>
        {
            string path = context.Request.Path.Value ?? "/";
            bool open = path is "/" or "/healthz" or AdminRoutes.Alive or AdminRoutes.Ready;
            if (!open && !Authorized(context.Request.Headers.Authorization.ToString(), expected))
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                context.Response.Headers.WWWAuthenticate = "Bearer";
                await context.Response.WriteAsJsonAsync(new AdminError("missing or wrong bearer token (Authorization: Bearer <Admin:Token>)"),
                    AdminJson.Default.AdminError);
                return;
            }
            await next(context);
        };
    }

    private static bool Authorized(string header, byte[] expectedHash)
    {
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        byte[] offered = SHA256.HashData(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim()));
        return CryptographicOperations.FixedTimeEquals(offered, expectedHash);
    }

    private static async Task<IResult> LeaveAsync(HttpContext context, ActorSystem system)
    {
        var cluster = Cluster.Get(system);
        var request = context.Request.ContentLength is > 0 ? await ReadAsync(context, AdminJson.Default.AddressRequest) : null;
        if (request is null)
        {
            // The node itself: CoordinatedShutdown's cluster-leave phase hands its shards off, then the process exits
            // (as on SIGTERM), after this answer is sent.
            string self = cluster.SelfAddress.ToString();
            _ = Task.Run(async () =>
            {
                await Task.Delay(200);
                await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClusterLeavingReason.Instance);
            });
            return Results.Json(new ClusterCommandResult("leave", self, "leaving: shards hand off, then this node exits"),
                AdminJson.Default.ClusterCommandResult, statusCode: StatusCodes.Status202Accepted);
        }
        if (!TryMember(cluster, request.Address, out var member, out var error))
        {
            return error;
        }
        cluster.Leave(member.Address);
        return Results.Json(new ClusterCommandResult("leave", member.Address.ToString(), "asked to leave"),
            AdminJson.Default.ClusterCommandResult, statusCode: StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> DownAsync(HttpContext context, ActorSystem system)
    {
        var cluster = Cluster.Get(system);
        var request = await ReadAsync(context, AdminJson.Default.AddressRequest);
        if (request is null)
        {
            return BadRequest("expected {\"address\": \"akka.tcp://ingest@host:port\"}");
        }
        if (!TryMember(cluster, request.Address, out var member, out var error))
        {
            return error;
        }
        cluster.Down(member.Address);
        return Results.Json(new ClusterCommandResult("down", member.Address.ToString(), "marked down: it will be removed"),
            AdminJson.Default.ClusterCommandResult, statusCode: StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> JoinAsync(HttpContext context, ActorSystem system)
    {
        var request = await ReadAsync(context, AdminJson.Default.AddressRequest);
        if (request is null || !TryAddress(request.Address, out var address))
        {
            return BadRequest("expected {\"address\": \"akka.tcp://ingest@host:port\"}");
        }
        Cluster.Get(system).Join(address);
        return Results.Json(new ClusterCommandResult("join", address.ToString(), "joining that member's cluster"),
            AdminJson.Default.ClusterCommandResult, statusCode: StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> AddOverrideAsync(HttpContext context, RelayOverrideStore store, IngestSettings settings)
    {
        var request = await ReadAsync(context, AdminJson.Default.RelayOverrideRequest);
        if (request is null)
        {
            return BadRequest("expected {\"prefix\": \"10.0.5.0/24\", \"relay\": \"amt-relay.m2icast.net\"}");
        }
        var (entry, error) = await store.AddAsync(request, context.RequestAborted);
        return entry is null ? BadRequest(error) : Results.Json(AdminQueries.Overrides(store, settings), AdminJson.Default.RelayOverridesView);
    }

    private static bool TryMember(Cluster cluster, string text, out Member member, out IResult error)
    {
        member = null!;
        if (!TryAddress(text, out var address))
        {
            error = BadRequest($"'{text}' is not a cluster address like akka.tcp://ingest@10.0.0.1:4053");
            return false;
        }
        var found = cluster.State.Members.FirstOrDefault(m => m.Address.Equals(address));
        if (found is null)
        {
            error = NotFound($"{address} is not a member (see {AdminRoutes.Cluster})");
            return false;
        }
        member = found;
        error = Results.Empty;
        return true;
    }

    internal static bool TryAddress(string? text, out Address address)
    {
        address = null!;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }
        try
        {
            address = Address.Parse(text.Trim());
            return address.Host is not null && address.Port is not null;
        }
        catch (UriFormatException)
        {
            return false;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static async Task<T?> ReadAsync<T>(HttpContext context, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) where T : class
    {
        try
        {
            return await context.Request.ReadFromJsonAsync(type, context.RequestAborted);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    private static IResult BadRequest(string error) =>
        Results.Json(new AdminError(error), AdminJson.Default.AdminError, statusCode: StatusCodes.Status400BadRequest);

    private static IResult NotFound(string error) =>
        Results.Json(new AdminError(error), AdminJson.Default.AdminError, statusCode: StatusCodes.Status404NotFound);
}
