using System.Net;
using IngestCluster.Protocols.Pim;

namespace IngestCluster.Protocols.Tests.Pim;

public sealed class PimMessageTests
{
    private static readonly PimJoinPrune ManyGroups = new(IPAddress.Parse("10.91.2.2"), 210,
    [
        new(new PimEncodedGroup(IPAddress.Parse("232.1.1.1"), 32),
            [PimEncodedSource.Ssm(IPAddress.Parse("10.91.4.2")), PimEncodedSource.Ssm(IPAddress.Parse("10.91.4.3"))],
            [PimEncodedSource.Ssm(IPAddress.Parse("10.91.4.4"))]),
        new(new PimEncodedGroup(IPAddress.Parse("232.1.1.2"), 32), [], [PimEncodedSource.Ssm(IPAddress.Parse("10.91.4.2"))]),
        new(new PimEncodedGroup(IPAddress.Parse("224.0.0.0"), 4), [new PimEncodedSource(IPAddress.Parse("10.1.1.1"), 32, true, true, true)], []),
    ]);

    private static readonly PimJoinPrune Ipv6 = new(IPAddress.Parse("fe80::1"), 210,
    [
        new(new PimEncodedGroup(IPAddress.Parse("ff3e::8000:1"), 128), [PimEncodedSource.Ssm(IPAddress.Parse("2001:db8::12"))], []),
    ]);

    internal static byte[] Encode(PimJoinPrune jp)
    {
        var bytes = new byte[jp.Length];
        jp.Write(bytes);
        return bytes;
    }

    internal static byte[] Encode(PimHello hello)
    {
        var bytes = new byte[hello.Length];
        hello.Write(bytes);
        return bytes;
    }

    [Fact]
    public void A_join_prune_with_many_groups_and_both_lists_round_trips()
    {
        var bytes = Encode(ManyGroups);
        Assert.True(PimJoinPrune.TryRead(bytes, out var decoded, out var error), error.ToString());
        Assert.Equal(ManyGroups, decoded);
    }

    [Fact]
    public void An_ipv6_join_round_trips_with_the_pseudo_header_in_its_checksum()
    {
        const uint pseudo = 0x1234;
        var bytes = new byte[Ipv6.Length];
        Ipv6.Write(bytes, pseudo);

        Assert.True(PimJoinPrune.TryRead(bytes, out var decoded, out var error, pseudo), error.ToString());
        Assert.Equal(Ipv6, decoded);
        Assert.False(PimJoinPrune.TryRead(bytes, out _, out error));
        Assert.Equal(ParseFailure.BadChecksum, error.Kind);
    }

    [Fact]
    public void A_group_claiming_more_sources_than_fit_says_how_many_bytes_remain()
    {
        var bytes = Encode(ManyGroups);
        // Group 1's joined-source count sits after the header (4), upstream (6), 4 bytes, group (8).
        bytes[22] = 0;
        bytes[23] = 32;
        PimHeader.FillChecksum(bytes);

        Assert.False(PimJoinPrune.TryRead(bytes, out _, out var error));
        Assert.Equal(ParseFailure.LengthMismatch, error.Kind);
        Assert.Equal(22, error.Offset);
        Assert.Equal($"Join/Prune group 1 claims 33 sources but {bytes.Length - 26} bytes remain", error.Message);
    }

    [Fact]
    public void A_bad_checksum_is_rejected_with_its_offset()
    {
        var bytes = Encode(ManyGroups);
        bytes[^1] ^= 1;
        Assert.False(PimJoinPrune.TryRead(bytes, out _, out var error));
        Assert.Equal((ParseFailure.BadChecksum, 2), (error.Kind, error.Offset));
    }

    [Fact]
    public void A_hello_with_every_known_option_round_trips_and_unknown_options_are_skipped()
    {
        var hello = new PimHello
        {
            HoldtimeSeconds = 105,
            LanPruneDelay = new PimLanPruneDelay(true, 500, 2500),
            DrPriority = 7,
            GenerationId = 0xDEADBEEF,
            AddressList = [IPAddress.Parse("10.91.2.3"), IPAddress.Parse("2001:db8::1")],
        };
        var bytes = Encode(hello);
        Assert.True(PimHello.TryRead(bytes, out var decoded, out var error), error.ToString());
        Assert.Equal(hello, decoded);

        // Append an unknown option 65001 with 3 bytes of value.
        var longer = bytes.Concat(new byte[] { 0xFD, 0xE9, 0, 3, 1, 2, 3 }).ToArray();
        PimHeader.FillChecksum(longer);
        Assert.True(PimHello.TryRead(longer, out decoded, out error), error.ToString());
        Assert.Equal((ushort)65001, Assert.Single(decoded.UnknownOptions));
        Assert.Equal(hello.GenerationId, decoded.GenerationId);
    }

    [Fact]
    public void A_goodbye_is_a_hello_with_holdtime_zero()
    {
        var bytes = Encode(new PimHello { HoldtimeSeconds = 0, GenerationId = 1 });
        Assert.True(PimHello.TryRead(bytes, out var hello, out _));
        Assert.True(hello.IsGoodbye);
    }

    [Fact]
    public void A_hello_option_longer_than_the_message_is_a_length_mismatch()
    {
        var bytes = Encode(new PimHello { HoldtimeSeconds = 105 });
        bytes[7] = 9;
        PimHeader.FillChecksum(bytes);
        Assert.False(PimHello.TryRead(bytes, out _, out var error));
        Assert.Equal((ParseFailure.LengthMismatch, 6), (error.Kind, error.Offset));
        Assert.Equal("Hello option 1 claims 9 bytes but 2 remain", error.Message);
    }

    [Fact]
    public void Version_1_is_refused()
    {
        var bytes = Encode(new PimHello { HoldtimeSeconds = 105 });
        bytes[0] = 0x10;
        PimHeader.FillChecksum(bytes);
        Assert.False(PimHeader.TryRead(bytes, out _, out var error));
        Assert.Equal(ParseFailure.BadVersion, error.Kind);
    }

    [Fact]
    public void An_unknown_address_family_is_unsupported()
    {
        var bytes = Encode(ManyGroups);
        bytes[4] = 9;
        PimHeader.FillChecksum(bytes);
        Assert.False(PimJoinPrune.TryRead(bytes, out _, out var error));
        Assert.Equal((ParseFailure.Unsupported, 4), (error.Kind, error.Offset));
    }

    [Fact]
    public void Writers_refuse_a_mask_longer_than_the_address()
    {
        var bad = new PimJoinPrune(IPAddress.Parse("10.0.0.1"), 210,
            [new(new PimEncodedGroup(IPAddress.Parse("232.1.1.1"), 33), [], [])]);
        Assert.Throws<ArgumentException>(() => bad.Write(new byte[bad.Length]));
    }
}
