using IngestCluster.Protocols.Pim;

namespace IngestCluster.Protocols.Tests.Pim;

/// <summary>Seeded robustness runs of the PIM readers (see <see cref="Fuzz"/>), seeded from FRR's capture and
/// our own multi-group and IPv6 messages.</summary>
public sealed class PimFuzzTests
{
    private static IReadOnlyList<byte[]> Seeds() =>
    [
        .. PimCaptureTests.Messages().Select(m => m.Pim),
        PimMessageTests.Encode(new PimJoinPrune(System.Net.IPAddress.Parse("fe80::1"), 210,
            [new(new PimEncodedGroup(System.Net.IPAddress.Parse("ff3e::1"), 128), [PimEncodedSource.Ssm(System.Net.IPAddress.Parse("2001:db8::1"))], [])])),
        PimMessageTests.Encode(new PimHello { HoldtimeSeconds = 105, DrPriority = 1, GenerationId = 9, AddressList = [System.Net.IPAddress.Parse("10.1.1.1")] }),
    ];

    private static void FixChecksum(byte[] message)
    {
        if (message.Length >= PimHeader.Length)
        {
            PimHeader.FillChecksum(message);
        }
    }

    [Fact]
    public void The_header_reader_never_throws_on_mutated_input() =>
        Fuzz.Run("pim-header", Seeds(), (ReadOnlySpan<byte> input, out ParseError error) => PimHeader.TryRead(input, out _, out error), FixChecksum);

    [Fact]
    public void The_hello_reader_never_throws_on_mutated_input() =>
        Fuzz.Run("pim-hello", PimCaptureTests.OfType(PimMessageType.Hello),
            (ReadOnlySpan<byte> input, out ParseError error) => PimHello.TryRead(input, out _, out error), FixChecksum);

    [Fact]
    public void The_join_prune_reader_never_throws_on_mutated_input() =>
        Fuzz.Run("pim-join-prune", [.. PimCaptureTests.OfType(PimMessageType.JoinPrune), .. Seeds().Where(s => (s[0] & 0x0F) == 3)],
            (ReadOnlySpan<byte> input, out ParseError error) => PimJoinPrune.TryRead(input, out _, out error), FixChecksum);

    [Fact]
    public void The_encoded_address_readers_never_throw_on_mutated_input()
    {
        var sources = PimCaptureTests.OfType(PimMessageType.JoinPrune).Select(m => m[4..]).ToList();
        Fuzz.Run("pim-encoded-unicast", sources, (ReadOnlySpan<byte> input, out ParseError error) =>
            PimAddressEncoding.TryReadUnicast(input, 0, out _, out _, out error));
        var groups = PimCaptureTests.OfType(PimMessageType.JoinPrune).Select(m => m[14..]).ToList();
        Fuzz.Run("pim-encoded-group", groups, (ReadOnlySpan<byte> input, out ParseError error) =>
            PimAddressEncoding.TryReadGroup(input, 0, out _, out _, out error));
        var encodedSources = PimCaptureTests.OfType(PimMessageType.JoinPrune).Select(m => m[26..]).ToList();
        Fuzz.Run("pim-encoded-source", encodedSources, (ReadOnlySpan<byte> input, out ParseError error) =>
            PimAddressEncoding.TryReadSource(input, 0, out _, out _, out error));
    }
}
