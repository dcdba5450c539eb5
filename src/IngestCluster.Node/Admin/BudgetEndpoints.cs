using System.Text.Json;
using Akka.Actor;
using IngestCluster.Admin.Contracts;
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
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    public static WebApplication MapBudgetAdmin(this WebApplication app)
    {
        app.MapGet(AdminRoutes.Budget, async (ActorRegistry registry) =>
        {
            try
            {
                var report = await registry.Get<BandwidthBudgetActor>().Ask<BudgetProtocol.BudgetReport>(BudgetProtocol.GetBudget.Instance, Timeout);
                return Results.Json(View(report), AdminJson.Default.BudgetView);
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                return Unavailable(e);
            }
        });
        app.MapPost(AdminRoutes.BudgetLimit, async (HttpRequest request, ActorRegistry registry) =>
        {
            using var reader = new StreamReader(request.Body);
            string body = (await reader.ReadToEndAsync()).Trim();
            if (!TryReadLimit(body, out long? limit, out string error))
            {
                return Results.Json(new AdminError($"budget: {error}"), AdminJson.Default.AdminError, statusCode: StatusCodes.Status400BadRequest);
            }
            try
            {
                var report = await registry.Get<BandwidthBudgetActor>().Ask<BudgetProtocol.BudgetReport>(new BudgetProtocol.SetLimit(limit), Timeout);
                return Results.Json(View(report), AdminJson.Default.BudgetView);
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

    /// <summary>The report as the contracts' record, for <c>/budget</c> and <c>/status</c>.</summary>
    public static BudgetView View(BudgetProtocol.BudgetReport report) => new(
        Limit: report.Limit is { } l ? new Bitrate(l).ToString() : null,
        LimitBitsPerSecond: report.Limit,
        LimitFrom: report.LimitFrom,
        Used: new Bitrate(report.Used).ToString(),
        UsedBitsPerSecond: report.Used,
        Admitted: [.. report.Admitted.Select(a => new BudgetAdmittedView(a.Flow.Source.ToString(), a.Flow.Group.ToString(),
            a.BitsPerSecond, a.OffloadBitsPerSecond, a.Population, a.BitrateFrom))],
        Blocked: [.. report.Blocked.Select(b => new BudgetBlockedView(b.Flow.Source.ToString(), b.Flow.Group.ToString(),
            b.Until, b.Reason, b.Detail, b.Population))],
        Pending: [.. report.Pending.Select(p => new BudgetPendingView(p.Flow.Source.ToString(), p.Flow.Group.ToString(), p.Since))],
        Origins: [.. report.Origins]);

    private static IResult Unavailable(Exception e) =>
        Results.Json(new AdminError($"budget: the budget singleton did not answer in time ({e.Message}); it may be moving or its journal down"),
            AdminJson.Default.AdminError, statusCode: StatusCodes.Status503ServiceUnavailable);
}
