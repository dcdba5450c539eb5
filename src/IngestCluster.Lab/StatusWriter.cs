using System.Text.Json;

namespace IngestCluster.Lab;

/// <summary>
/// Machine-readable output: one JSON object a line on stdout, flushed at once, every object with an
/// <c>"event"</c> field first and a <c>"time"</c> (UTC, ISO 8601) second. Safe to call from several threads.
/// </summary>
internal sealed class StatusWriter(TextWriter output)
{
    private readonly Lock _gate = new();
    private readonly TextWriter _output = output;

    public static StatusWriter Console { get; } = new(System.Console.Out);

    public void Write(string eventName, Action<Utf8JsonWriter> fields)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("event", eventName);
            json.WriteString("time", DateTime.UtcNow);
            fields(json);
            json.WriteEndObject();
        }
        var line = System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
        lock (_gate)
        {
            _output.WriteLine(line);
            _output.Flush();
        }
    }
}
