namespace IngestCluster.Protocols.Tests;

public class InternetChecksumTests
{
    [Fact]
    public void Rfc1071_example_sums_to_the_published_value()
    {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (after end-around carry).
        byte[] data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        Assert.Equal(0xddf2u, InternetChecksum.Sum(data));
        Assert.Equal((ushort)0x220d, InternetChecksum.Compute(data));
    }

    [Fact]
    public void Odd_length_pads_the_last_byte_with_zero()
    {
        Assert.Equal(InternetChecksum.Sum([0x12, 0x34, 0x56, 0x00]), InternetChecksum.Sum([0x12, 0x34, 0x56]));
    }

    [Fact]
    public void Incremental_update_matches_a_full_recompute_for_every_ttl()
    {
        var rng = new Random(1624);
        var header = new byte[20];
        for (int trial = 0; trial < 2000; trial++)
        {
            rng.NextBytes(header);
            header[10] = header[11] = 0;
            ushort checksum = InternetChecksum.Compute(header);
            ushort oldWord = (ushort)(header[8] << 8 | header[9]);
            header[8] = (byte)(header[8] - 1);
            ushort newWord = (ushort)(header[8] << 8 | header[9]);
            ushort expected = InternetChecksum.Compute(header);
            ushort updated = InternetChecksum.Update(checksum, oldWord, newWord);
            // One's complement has two zeros; RFC 1624 eqn. 3 never yields 0x0000 for a nonzero sum,
            // so compare the sums the receiver would compute.
            header[10] = (byte)(updated >> 8);
            header[11] = (byte)updated;
            Assert.True(InternetChecksum.Verify(header), $"trial {trial}: expected 0x{expected:x4}, got 0x{updated:x4}");
        }
    }
}
