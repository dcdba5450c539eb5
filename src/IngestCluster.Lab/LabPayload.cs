using System.Buffers.Binary;

namespace IngestCluster.Lab;

/// <summary>
/// The start of every payload the lab source sends, read back by the receiver:
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 Sequence number (64 bits, from 0)             |
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Send time (64 bits, microseconds since the Unix epoch)|
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   filler (0xA5) up to the configured size ...
/// </code>
/// Big-endian, so tshark shows the sequence in the first bytes of the UDP payload.
/// </summary>
internal static class LabPayload
{
    public const int SequenceOffset = 0;
    public const int SendTimeOffset = 8;
    public const int MinLength = 16;
    public const byte Filler = 0xA5;

    public static void Write(Span<byte> payload, ulong sequence, long sendTimeMicroseconds)
    {
        BinaryPrimitives.WriteUInt64BigEndian(payload[SequenceOffset..], sequence);
        BinaryPrimitives.WriteInt64BigEndian(payload[SendTimeOffset..], sendTimeMicroseconds);
    }

    public static bool TryRead(ReadOnlySpan<byte> payload, out ulong sequence, out long sendTimeMicroseconds)
    {
        if (payload.Length < MinLength)
        {
            sequence = 0;
            sendTimeMicroseconds = 0;
            return false;
        }
        sequence = BinaryPrimitives.ReadUInt64BigEndian(payload[SequenceOffset..]);
        sendTimeMicroseconds = BinaryPrimitives.ReadInt64BigEndian(payload[SendTimeOffset..]);
        return true;
    }

    public static long UnixMicroseconds(DateTimeOffset time) => (time.UtcTicks - DateTime.UnixEpoch.Ticks) / 10;
}
