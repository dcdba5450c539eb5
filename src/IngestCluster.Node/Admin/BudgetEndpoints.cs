using System.Text.Json;
using Akka.Actor;
using Akka.Hosting;
using IngestCluster.Node.Budget;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace IngestCluster.Node.Admin;

/// <summary>
/// The budget's admin resources: <c>GET /budget</c> (limit, used, admitted, blocked with why, pending metadata) and
/// <c>POST /budget/limit</c> with a body such as <c>2Gbps</c> (or <c>{"limit":"2Gbps"}</c>; <c>settings</c> or an
/// empty limit hands it back to <c>Budget:Limit</c>). The new limit is persisted by the budget singleton before the
/// answer, so it outlives a failover.
/// </summary>
public static class BudgetEndpoints
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public static WebApplication MapBudgetAdmin(this WebApplication app)
    {
        app.MapGet("/budget", async (ActorRegistry registry) =>
        {
            try
            {
                var report = await registry.Get<BandwidthBudgetActor>().Ask<BudgetProtocol.BudgetReport>(BudgetProtocol.GetBudget.Instance, Timeout);
                return Results.Text(JsonSerializer.Serialize(View(report), Json), "application/json");
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                return Unavailable(e);
            }
        });
        app.MapPost("/budget/limit", async (HttpRequest request, ActorRegistry registry) =>
        {
            using var reader = new StreamReader(request.Body);
            string body = (await reader.ReadToEndAsync()).Trim();
            if (!TryReadLimit(body, out long? limit, out string error))
            {
                return Results.Text($"budget: {error}\n", statusCode: StatusCodes.Status400BadRequest);
            }
            try
            {
                var report = await registry.Get<BandwidthBudgetActor>().Ask<BudgetProtocol.BudgetReport>(new BudgetProtocol.SetLimit(limit), Timeout);
                return Results.Text(JsonSerializer.Serialize(View(report), Json), "application/json");
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                return Unavailable(e);
            }
        });
        return app;
    }

    /// <summary>Reads <c>2Gbps</c>, <c>{"limit":"2Gbps"}</c>, or <c>settings</c> / empty / <c>{"limit":null}</c>
    /// (null: back to the settings' limit).</summary>
    public static bool TryReadLimit(string body, out long? limit, out string error)
    {
        limit = null;
        error = "";
        string? text = body;
        if (body.StartsWith('{'))
        {
            try
            {
                using var document = JsonDocument.Parse(body);
                if (!document.RootElement.TryGetProperty("limit", out var value))
                {
                    error = "the JSON body has no \"limit\"";
                    return false;
                }
                text = value.ValueKind == JsonValueKind.Null ? null : value.ToString();
            }
            catch (JsonException e)
            {
                error = $"the body is not JSON: {e.Message}";
                return false;
            }
        }
        if (string.IsNullOrWhiteSpace(text) || string.Equals(text.Trim(), "settings", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        if (!Bitrate.TryParse(text, out var bitrate, out string parseError))
        {
            error = $"limit '{text}': {parseError}";
            return false;
        }
        limit = bitrate.BitsPerSecond;
        return true;
    }

    /// <summary>The report as JSON-friendly objects, for <c>/budget</c> and <c>/status</c>.</summary>
    public static object View(BudgetProtocol.BudgetReport report) => new
    {
        limit = report.Limit is { } l ? new Bitrate(l).ToString() : null,
        limitBitsPerSecond = report.Limit,
        limitFrom = report.LimitFrom,
        used = new Bitrate(report.Used).ToString(),
        usedBitsPerSecond = report.Used,
        admitted = report.Admitted.Select(a => new
        {
            source = a.Flow.Source.ToString(),
            group = a.Flow.Group.ToString(),
            bitsPerSecond = a.BitsPerSecond,
            offloadBitsPerSecond = a.OffloadBitsPerSecond,
            population = a.Population,
            bitrateFrom = a.BitrateFrom,
        }),
        blocked = report.Blocked.Select(b => new
        {
            source = b.Flow.Source.ToString(),
            group = b.Flow.Group.ToString(),
            until = b.Until,
            reason = b.Reason,
            detail = b.Detail,
            population = b.Population,
        }),
        pending = report.Pending.Select(p => new { source = p.Flow.Source.ToString(), group = p.Flow.Group.ToString(), since = p.Since }),
        origins = report.Origins,
    };

    private static IResult Unavailable(Exception e) =>
        Results.Text($"budget: the budget singleton did not answer in time ({e.Message}); it may be moving or its journal down\n",
            statusCode: StatusCodes.Status503ServiceUnavailable);
}
