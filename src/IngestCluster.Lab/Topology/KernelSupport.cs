namespace IngestCluster.Lab.Topology;

/// <summary>
/// What the running kernel can do for a lab. FRR's pimd needs the kernel's multicast routing (CONFIG_IP_MROUTE):
/// without it, MRT_INIT fails with ENOPROTOOPT ("Protocol not available" in pimd.log), pimd sends no Join for a
/// receiver's IGMP report and forwards nothing to it. The kernel shows the feature by /proc/net/ip_mr_vif, which
/// exists in every network namespace when it is built in.
/// </summary>
public static class KernelSupport
{
    private const string MrouteVifTable = "/proc/net/ip_mr_vif";

    /// <summary>Whether this kernel routes multicast (CONFIG_IP_MROUTE), so that FRR pimd can join and forward.</summary>
    public static bool MulticastRouting { get; } = File.Exists(MrouteVifTable);

    /// <summary>Why a test of a real PIM router cannot run here, for a skipped test's reason and the lab's warning.</summary>
    public static string NoMulticastRouting =>
        $"this kernel ({Environment.OSVersion.Version}) has no multicast routing (CONFIG_IP_MROUTE; {MrouteVifTable} is missing): " +
        "FRR pimd cannot open its mroute socket, so it sends no PIM Join and forwards no multicast to a receiver";
}
