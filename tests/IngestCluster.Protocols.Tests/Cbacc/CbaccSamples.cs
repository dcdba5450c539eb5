using System.Runtime.CompilerServices;

namespace IngestCluster.Protocols.Tests.Cbacc;

internal static class CbaccSamples
{
    /// <summary>A real document from Vectors/cbacc.</summary>
    public static string Vector(string file) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Vectors", "cbacc", file));

    /// <summary>One of our own samples, read from beside this source file (Samples/).</summary>
    public static string Ours(string file, [CallerFilePath] string here = "") =>
        File.ReadAllText(Path.Combine(Path.GetDirectoryName(here)!, "Samples", file));
}
