using System.Text.Json;
using IngestCluster.Lab.Topology;

namespace IngestCluster.IntegrationTests.EndToEnd;

/// <summary>What a lab receiver's status lines (one JSON object per status interval) say.</summary>
internal static class ReceiverStatus
{
    public static List<JsonElement> Lines(LabProcess receiver) =>
        [.. receiver.Lines().Where(l => l.Contains("\"event\":\"status\"", StringComparison.Ordinal))
            .Select(l => { using var d = JsonDocument.Parse(l); return d.RootElement.Clone(); })];

    public static JsonElement? Last(LabProcess receiver) => Lines(receiver) is { Count: > 0 } lines ? lines[^1] : null;

    /// <summary>Its packets so far, by its last status line.</summary>
    public static long Received(LabProcess receiver) => Last(receiver)?.GetProperty("received").GetInt64() ?? 0;

    /// <summary>Its last two status lines each saw packets.</summary>
    public static bool Receiving(LabProcess receiver) =>
        Lines(receiver) is { Count: >= 2 } lines && lines[^1].GetProperty("receivedSinceLastStatus").GetInt64() > 0
            && lines[^2].GetProperty("receivedSinceLastStatus").GetInt64() > 0;

    /// <summary>Its last <paramref name="lines"/> status lines saw no packet, after it had received some.</summary>
    public static bool Quiet(LabProcess receiver, int lines) =>
        Lines(receiver) is { } all && all.Count >= lines && all[^1].GetProperty("received").GetInt64() > 0
            && all.TakeLast(lines).All(l => l.GetProperty("receivedSinceLastStatus").GetInt64() == 0);
}
