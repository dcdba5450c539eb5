using System.Buffers.Binary;

namespace IngestCluster.Protocols.Pim;

/// <summary>PIM message types (RFC 7761 §4.9).</summary>
public enum PimMessageType : byte
{
    Hello = 0,
    Register = 1,
    RegisterStop = 2,
    JoinPrune = 3,
    Bootstrap = 4,
    Assert = 5,
    Graft = 6,
    GraftAck = 7,
    CandidateRpAdvertisement = 8,
}

/// <summary>
/// The PIM common header (RFC 7761 §4.9):
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |PIM Ver| Type  |   Reserved    |           Checksum            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// The checksum covers the whole PIM message (for IPv6, with the pseudo-header: pass its partial sum).
/// </summary>
public readonly record struct PimHeader(PimMessageType Type, ushort Checksum)
{
    public const int Length = 4;
    public const byte Version = 2;
    public const byte IpProtocol = 103;
    public const int ChecksumOffset = 2;

    /// <summary>Reads and checks the header: version 2, and the checksum over <paramref name="message"/>.</summary>
    public static bool TryRead(ReadOnlySpan<byte> message, out PimHeader header, out ParseError error,
        uint pseudoHeaderSum = 0, bool verifyChecksum = true)
    {
        header = default;
        if (message.Length < Length)
        {
            error = ParseError.Truncated(0, "PIM header needs {0} bytes but {1} remain", Length, message.Length);
            return false;
        }
        int version = message[0] >> 4;
        if (version != Version)
        {
            error = ParseError.BadVersion(0, "PIM version {0}, expected 2", version);
            return false;
        }
        // Register messages checksum only their header; we never accept Register, so the whole message it is.
        if (verifyChecksum && !InternetChecksum.Verify(message, pseudoHeaderSum))
        {
            error = ParseError.BadChecksum(ChecksumOffset, "PIM checksum 0x{0:x4} does not verify over {1} bytes",
                BinaryPrimitives.ReadUInt16BigEndian(message[ChecksumOffset..]), message.Length);
            return false;
        }
        header = new PimHeader((PimMessageType)(message[0] & 0x0F), BinaryPrimitives.ReadUInt16BigEndian(message[ChecksumOffset..]));
        error = default;
        return true;
    }

    /// <summary>Writes version 2, <paramref name="type"/>, reserved 0 and a zero checksum.</summary>
    public static void Write(Span<byte> destination, PimMessageType type)
    {
        destination[0] = (byte)((Version << 4) | (byte)type);
        destination[1] = 0;
        destination[2] = 0;
        destination[3] = 0;
    }

    /// <summary>Computes and stores the checksum of a complete PIM message whose checksum field is zero.</summary>
    public static void FillChecksum(Span<byte> message, uint pseudoHeaderSum = 0)
    {
        message[ChecksumOffset] = 0;
        message[ChecksumOffset + 1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(message[ChecksumOffset..], InternetChecksum.Compute(message, pseudoHeaderSum));
    }
}
