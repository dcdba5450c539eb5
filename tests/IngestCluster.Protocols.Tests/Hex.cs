namespace IngestCluster.Protocols.Tests;

/// <summary>Hex helpers for test vectors and failure messages.</summary>
public static class Hex
{
    public static byte[] Parse(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    public static string Of(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes).ToLowerInvariant();

    /// <summary>A buffer pre-filled with 0xff, so a byte a writer forgot shows.</summary>
    public static byte[] Filled(int length)
    {
        var buffer = new byte[length];
        Array.Fill(buffer, (byte)0xff);
        return buffer;
    }
}
