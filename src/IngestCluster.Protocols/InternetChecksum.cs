using System.Buffers.Binary;

namespace IngestCluster.Protocols;

/// <summary>
/// The Internet checksum (RFC 1071): the one's complement of the one's complement sum of 16-bit words.
/// Used by IPv4 headers, PIM and IGMP. Also the incremental update of RFC 1624 for a changed 16-bit word.
/// </summary>
public static class InternetChecksum
{
    /// <summary>One's complement sum of <paramref name="data"/> as big-endian 16-bit words, folded to 16 bits,
    /// not complemented. An odd trailing byte is padded with zero. <paramref name="initial"/> carries a
    /// previous partial sum (a pseudo-header, say).</summary>
    public static uint Sum(ReadOnlySpan<byte> data, uint initial = 0)
    {
        ulong sum = initial;
        int i = 0;
        // Eight bytes at a time, as four 16-bit words: the carries collect in the upper bits of the ulong.
        for (; i + 8 <= data.Length; i += 8)
        {
            ulong w = BinaryPrimitives.ReadUInt64BigEndian(data.Slice(i, 8));
            sum += (w >> 48) + ((w >> 32) & 0xFFFF) + ((w >> 16) & 0xFFFF) + (w & 0xFFFF);
        }
        for (; i + 2 <= data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data.Slice(i, 2));
        }
        if (i < data.Length)
        {
            sum += (uint)data[i] << 8;
        }
        while (sum > 0xFFFF)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        return (uint)sum;
    }

    /// <summary>The checksum field value for <paramref name="data"/> (with its checksum field zeroed).</summary>
    public static ushort Compute(ReadOnlySpan<byte> data, uint initial = 0) => (ushort)~Sum(data, initial);

    /// <summary>True when <paramref name="data"/>, checksum field included, sums to 0xFFFF.</summary>
    public static bool Verify(ReadOnlySpan<byte> data, uint initial = 0) => Sum(data, initial) == 0xFFFF;

    /// <summary>
    /// RFC 1624, eqn. 3: the new checksum after one 16-bit word changes from <paramref name="oldWord"/> to
    /// <paramref name="newWord"/>: HC' = ~(~HC + ~m + m').
    /// </summary>
    public static ushort Update(ushort checksum, ushort oldWord, ushort newWord)
    {
        uint sum = (uint)(ushort)~checksum + (ushort)~oldWord + newWord;
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }
}
