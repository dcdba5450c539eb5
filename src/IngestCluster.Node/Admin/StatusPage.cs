using System.Reflection;

namespace IngestCluster.Node.Admin;

/// <summary>The page at <c>/</c>: plain HTML and a script that polls the JSON resources; nothing from outside.</summary>
internal static class StatusPage
{
    public static readonly string Html = Load();

    private static string Load()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("IngestCluster.Node.Admin.StatusPage.html")
            ?? throw new InvalidOperationException("the status page is not embedded in the assembly");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
