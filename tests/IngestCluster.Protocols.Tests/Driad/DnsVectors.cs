using System.Text.RegularExpressions;

namespace IngestCluster.Protocols.Tests.Driad;

/// <summary>Reads the RDATA out of the zone files and notes in Vectors/dns (RFC 3597 generic form, one record a line,
/// with or without parentheses, in records or in comments).</summary>
internal static partial class DnsVectors
{
    public static string PathOf(string file) => Path.Combine(AppContext.BaseDirectory, "Vectors", "dns", file);

    /// <summary>Every <c>\# N hex…</c> on the file's lines, in order, as (declared length, bytes, the line).</summary>
    public static List<(int DeclaredLength, byte[] Rdata, string Line)> GenericRdata(string file)
    {
        var found = new List<(int, byte[], string)>();
        foreach (var line in File.ReadLines(PathOf(file)))
        {
            var match = Generic().Match(line);
            if (!match.Success)
            {
                continue;
            }
            string hex = match.Groups["hex"].Value.Replace(" ", "", StringComparison.Ordinal);
            found.Add((int.Parse(match.Groups["len"].Value, System.Globalization.CultureInfo.InvariantCulture), Convert.FromHexString(hex), line));
        }
        return found;
    }

    /// <summary>The relay text of every <c>IN AMTRELAY …</c> line.</summary>
    public static List<string> NativeRecords(string file) =>
        [.. File.ReadLines(PathOf(file)).Select(l => Native().Match(l)).Where(m => m.Success).Select(m => m.Groups["rdata"].Value.Trim())];

    [GeneratedRegex(@"\\#\s*\(?\s*(?<len>\d+)\s+(?<hex>[0-9A-Fa-f ]+?)\s*\)?\s*$")]
    private static partial Regex Generic();

    [GeneratedRegex(@"^[^;]*\bIN\s+AMTRELAY\s+(?<rdata>[^;]+)")]
    private static partial Regex Native();
}
