using IngestCluster.Lab.Topology;

namespace IngestCluster.IntegrationTests;

/// <summary>
/// Kernel features a test stands on. A test that needs one is a <c>[SkippableFact]</c> that calls this first: on a
/// kernel without the feature it is reported as skipped, with the reason, instead of failing on a timeout far from
/// the cause; where the kernel has it, the test runs in full. test.sh counts the skipped tests in its closing line.
/// </summary>
internal static class RequiresKernel
{
    /// <summary>FRR pimd joining and forwarding for a receiver behind the router needs the kernel's multicast routing.</summary>
    public static void MulticastRouting() => Skip.IfNot(KernelSupport.MulticastRouting, KernelSupport.NoMulticastRouting);
}
