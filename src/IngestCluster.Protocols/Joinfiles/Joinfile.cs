using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace IngestCluster.Protocols.Joinfiles;

/// <summary>One (S,G) line of a joinfile; <see cref="Population"/> is the number of subscribed users when given.</summary>
public sealed record JoinfileEntry(IPAddress Source, IPAddress Group, long? Population = null)
{
    public SourceGroup SourceGroup => new(Source, Group);

    /// <summary>The line as the proof of concept writes it: <c>source,group</c> or <c>source,group,population</c>.</summary>
    public override string ToString() => Population is { } population
        ? string.Create(CultureInfo.InvariantCulture, $"{Source},{Group},{population}")
        : $"{Source},{Group}";
}

/// <summary>A line that could not be read: its 1-based number and what is wrong with it.</summary>
public sealed record JoinfileError(int Line, string Message)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"line {Line}: {Message}");
}

/// <summary>Everything a joinfile held: every good entry, and an error for every bad line.</summary>
public sealed record JoinfileContent(ImmutableArray<JoinfileEntry> Entries, ImmutableArray<JoinfileError> Errors);

/// <summary>
/// The one-box proof of concept's joinfile: one (S,G) per line, <c>source,group[,population]</c>. Blank lines and
/// <c>#</c> comments (whole-line or trailing) are allowed; fields are trimmed. One bad line does not lose the others.
/// </summary>
public static class Joinfile
{
    /// <summary>Reads a whole joinfile. Never throws on content.</summary>
    public static JoinfileContent Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var entries = ImmutableArray.CreateBuilder<JoinfileEntry>();
        var errors = ImmutableArray.CreateBuilder<JoinfileError>();
        int lineNumber = 0;
        foreach (var rawLine in text.AsSpan().EnumerateLines())
        {
            lineNumber++;
            if (TryParseLine(rawLine, out var entry, out var message))
            {
                if (entry is not null)
                {
                    entries.Add(entry);
                }
            }
            else
            {
                errors.Add(new JoinfileError(lineNumber, message));
            }
        }
        return new JoinfileContent(entries.ToImmutable(), errors.ToImmutable());
    }

    /// <summary>One line: true with an entry, true with null for a blank or comment line, false with a reason.</summary>
    public static bool TryParseLine(ReadOnlySpan<char> line, out JoinfileEntry? entry, out string error)
    {
        entry = null;
        error = string.Empty;
        int hash = line.IndexOf('#');
        if (hash >= 0)
        {
            line = line[..hash];
        }
        line = line.Trim();
        if (line.IsEmpty)
        {
            return true;
        }

        Span<Range> fields = stackalloc Range[4];
        int count = line.Split(fields, ',');
        if (count < 2)
        {
            error = $"'{Shorten(line)}' needs at least source,group";
            return false;
        }
        if (count > 3)
        {
            error = $"'{Shorten(line)}' has more than 3 fields (source,group[,population])";
            return false;
        }

        var sourceText = line[fields[0]].Trim();
        var groupText = line[fields[1]].Trim();
        if (!TryParseAddress(sourceText, out var source))
        {
            error = $"source '{Shorten(sourceText)}' is not an IP address";
            return false;
        }
        if (!TryParseAddress(groupText, out var group))
        {
            error = $"group '{Shorten(groupText)}' is not an IP address";
            return false;
        }
        if (!IsMulticast(group))
        {
            error = $"group {group} is not a multicast address";
            return false;
        }
        if (IsMulticast(source) || source.Equals(IPAddress.Any) || source.Equals(IPAddress.IPv6Any) || source.Equals(IPAddress.Broadcast))
        {
            error = $"source {source} is not a unicast address";
            return false;
        }
        if (source.AddressFamily != group.AddressFamily)
        {
            error = $"source {source} and group {group} are of different address families";
            return false;
        }

        long? population = null;
        if (count == 3)
        {
            var populationText = line[fields[2]].Trim();
            if (!long.TryParse(populationText, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
            {
                error = $"population '{Shorten(populationText)}' is not a whole number of 0 or more";
                return false;
            }
            population = value;
        }

        entry = new JoinfileEntry(source, group, population);
        return true;
    }

    /// <summary>The file's text: one line per entry, each ending in '\n'.</summary>
    public static string Format(IEnumerable<JoinfileEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var text = new StringBuilder();
        foreach (var entry in entries)
        {
            text.Append(entry.ToString()).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>
    /// Replaces <paramref name="path"/> atomically: writes a temporary file in the same directory, flushes it to disk
    /// (fsync), then renames it over the target, so a reader sees the old file or the new one, never a partial one.
    /// </summary>
    public static void WriteAtomically(string path, IEnumerable<JoinfileEntry> entries)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' has no directory", nameof(path));
        byte[] bytes = Encoding.UTF8.GetBytes(Format(entries));
        string temporary = Path.Combine(directory, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }

    private static bool TryParseAddress(ReadOnlySpan<char> text, out IPAddress address)
    {
        address = IPAddress.None;
        if (text.IsEmpty || text.Contains('%') || !IPAddress.TryParse(text, out var parsed))
        {
            return false;
        }
        // IPAddress.TryParse also takes "10.1" and "167772161"; a joinfile holds dotted quads.
        if (parsed.AddressFamily == AddressFamily.InterNetwork && (text.Count('.') != 3 || text.ContainsAny(":xX")))
        {
            return false;
        }
        address = parsed;
        return true;
    }

    private static bool IsMulticast(IPAddress address) => address.AddressFamily switch
    {
        AddressFamily.InterNetwork => address.GetAddressBytes()[0] is >= 224 and <= 239,
        AddressFamily.InterNetworkV6 => address.IsIPv6Multicast,
        _ => false,
    };

    private static string Shorten(ReadOnlySpan<char> text) => text.Length <= 60 ? text.ToString() : string.Concat(text[..60], "…");
}
