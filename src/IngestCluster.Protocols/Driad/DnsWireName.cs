using System.Text;

namespace IngestCluster.Protocols.Driad;

/// <summary>
/// Uncompressed wire-format domain names (RFC 1035 §3.1) as they appear in an AMTRELAY relay field, and their
/// presentation form (labels joined by dots, absolute with a final dot; '.', '\' and bytes outside printable
/// ASCII escaped as <c>\DDD</c> or <c>\.</c>, as bind9 prints them).
/// </summary>
public static class DnsWireName
{
    /// <summary>Longest label (RFC 1035 §2.3.4).</summary>
    public const int MaxLabelLength = 63;

    /// <summary>Longest name on the wire, length bytes and final zero byte included (RFC 1035 §2.3.4).</summary>
    public const int MaxWireLength = 255;

    /// <summary>
    /// Reads a name that fills <paramref name="input"/>: labels, then either the final zero byte at the very end, or
    /// (as Akamai published it) the end of the data straight after the last label, which is taken as the root.
    /// Compression pointers, extended label types, over-long labels or names, and bytes after the final zero byte
    /// are errors. <paramref name="hadRootLabel"/> says whether the final zero byte was there.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> input, out string name, out bool hadRootLabel, out ParseError error)
    {
        name = string.Empty;
        hadRootLabel = false;
        if (input.IsEmpty)
        {
            error = ParseError.Truncated(0, "domain name is empty: it needs at least its final zero byte");
            return false;
        }

        int offset = 0;
        int wireLength = 0;
        while (offset < input.Length)
        {
            byte length = input[offset];
            if ((length & 0xC0) == 0xC0)
            {
                error = ParseError.BadValue(offset, "domain name uses a compression pointer (0x{0:x2}), which an AMTRELAY relay field must not", length);
                return false;
            }
            if (length > MaxLabelLength)
            {
                error = ParseError.BadValue(offset, "label length {0} is over the maximum of 63 (or an extended label type)", length);
                return false;
            }
            if (length == 0)
            {
                wireLength += 1;
                if (offset + 1 != input.Length)
                {
                    error = ParseError.LengthMismatch(offset + 1, "{0} bytes follow the domain name's final zero byte", input.Length - offset - 1);
                    return false;
                }
                hadRootLabel = true;
                break;
            }
            if (offset + 1 + length > input.Length)
            {
                error = ParseError.Truncated(offset, "label of {0} bytes needs {0} bytes but {1} remain", length, input.Length - offset - 1);
                return false;
            }
            wireLength += 1 + length;
            // Counting the final zero byte, present or implied.
            if (wireLength + 1 > MaxWireLength)
            {
                error = ParseError.BadValue(offset, "domain name is longer than 255 bytes on the wire");
                return false;
            }
            offset += 1 + length;
        }

        name = Format(input);
        error = default;
        return true;
    }

    /// <summary>The presentation form of labels already checked by <see cref="TryRead"/>.</summary>
    private static string Format(ReadOnlySpan<byte> labels)
    {
        var text = new StringBuilder(labels.Length + 1);
        int offset = 0;
        while (offset < labels.Length && labels[offset] != 0)
        {
            int length = labels[offset];
            foreach (byte b in labels.Slice(offset + 1, length))
            {
                if (b == (byte)'.' || b == (byte)'\\' || b == (byte)'"' || b == (byte)'(' || b == (byte)')' || b == (byte)';' || b == (byte)'@' || b == (byte)'$')
                {
                    text.Append('\\').Append((char)b);
                }
                else if (b <= 0x20 || b >= 0x7F)
                {
                    text.Append('\\').Append(((int)b).ToString("D3", System.Globalization.CultureInfo.InvariantCulture));
                }
                else
                {
                    text.Append((char)b);
                }
            }
            text.Append('.');
            offset += 1 + length;
        }
        return text.Length == 0 ? "." : text.ToString();
    }

    /// <summary>
    /// Encodes a presentation-form name (a final dot optional; "." is the root) to uncompressed wire format with
    /// its final zero byte. False, with a reason, for empty labels, labels over 63 bytes, names over 255 bytes or bad
    /// escapes.
    /// </summary>
    public static bool TryEncode(string presentation, out byte[] wire, out string error)
    {
        ArgumentNullException.ThrowIfNull(presentation);
        wire = [];
        if (presentation.Length == 0)
        {
            error = "domain name is empty";
            return false;
        }
        if (presentation == ".")
        {
            wire = [0];
            error = string.Empty;
            return true;
        }

        var bytes = new List<byte>(presentation.Length + 2);
        var label = new List<byte>(MaxLabelLength);
        int i = 0;
        while (i < presentation.Length)
        {
            char c = presentation[i];
            if (c == '.')
            {
                if (!EndLabel(bytes, label, out error))
                {
                    return false;
                }
                i++;
                continue;
            }
            if (c == '\\')
            {
                if (IsDecimalEscape(presentation, i))
                {
                    int value = ((presentation[i + 1] - '0') * 100) + ((presentation[i + 2] - '0') * 10) + (presentation[i + 3] - '0');
                    if (value > 255)
                    {
                        error = $"escape \\{presentation.Substring(i + 1, 3)} is over 255";
                        return false;
                    }
                    label.Add((byte)value);
                    i += 4;
                    continue;
                }
                if (i + 1 >= presentation.Length || char.IsAsciiDigit(presentation[i + 1]))
                {
                    error = $"bad escape at character {i + 1}";
                    return false;
                }
                c = presentation[i + 1];
                i++;
            }
            if (c > 0x7E || c < 0x21)
            {
                error = $"character U+{(int)c:X4} at {i + 1} must be escaped";
                return false;
            }
            label.Add((byte)c);
            i++;
        }
        if (label.Count > 0 && !EndLabel(bytes, label, out error))
        {
            return false;
        }
        bytes.Add(0);
        if (bytes.Count > MaxWireLength)
        {
            error = $"domain name is {bytes.Count} bytes on the wire, over the maximum of 255";
            return false;
        }
        wire = [.. bytes];
        error = string.Empty;
        return true;
    }

    private static bool IsDecimalEscape(string text, int backslash) =>
        backslash + 3 < text.Length &&
        char.IsAsciiDigit(text[backslash + 1]) && char.IsAsciiDigit(text[backslash + 2]) && char.IsAsciiDigit(text[backslash + 3]);

    private static bool EndLabel(List<byte> bytes, List<byte> label, out string error)
    {
        if (label.Count == 0)
        {
            error = "domain name has an empty label";
            return false;
        }
        if (label.Count > MaxLabelLength)
        {
            error = $"label of {label.Count} bytes is over the maximum of 63";
            return false;
        }
        bytes.Add((byte)label.Count);
        bytes.AddRange(label);
        label.Clear();
        error = string.Empty;
        return true;
    }
}
