"""Generate the bundled name dictionary (``hvmiex/data/names/*.txt``) from stems written here.

    python -m hvmiex.namedb.generate [OUTPUT_DIR]

The lists are ours: common Windows process, module and driver names, Linux task and kernel-module
names and frequently hooked export names, expanded with the usual extensions and version patterns.
The output is deterministic (sorted, de-duplicated), so re-running it changes nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

# --------------------------------------------------------------------------- Windows
WIN_PROCESSES = ["system", "smss", "csrss", "wininit", "winlogon", "services", "lsass", "lsaiso", "svchost", "explorer", "taskhostw", "taskhost", "taskhostex", "taskmgr", "dwm", "conhost", "fontdrvhost", "sihost", "ctfmon", "runtimebroker", "searchui", "searchapp", "searchindexer", "searchhost", "searchprotocolhost", "searchfilterhost", "startmenuexperiencehost", "shellexperiencehost", "textinputhost", "applicationframehost", "systemsettings", "systemsettingsbroker", "wmiprvse", "wmiapsrv", "dllhost", "rundll32", "regsvr32", "msiexec", "spoolsv", "audiodg", "wuauclt", "wudfhost", "usocoreworker", "musnotification", "musnotifyicon", "sppsvc", "sppextcomobj", "securityhealthservice", "securityhealthsystray", "smartscreen", "msmpeng", "nissrv", "mpcmdrun", "mpdefendercoreservice", "sgrmbroker", "lsm", "userinit", "logonui", "consent", "wermgr", "werfault", "werfaultsecure", "dashost", "backgroundtaskhost", "compattelrunner", "devicecensus", "cmd", "powershell", "powershell_ise", "pwsh", "wscript", "cscript", "mshta", "regedit", "reg", "sc", "net", "net1", "netsh", "ipconfig", "ping", "tracert", "nslookup", "whoami", "tasklist", "taskkill", "schtasks", "at", "bitsadmin", "certutil", "wmic", "vssadmin", "bcdedit", "wevtutil", "icacls", "takeown", "attrib", "xcopy", "robocopy", "findstr", "more", "sort", "where", "hostname", "systeminfo", "msconfig", "mmc", "eventvwr", "perfmon", "resmon", "notepad", "wordpad", "mspaint", "calc", "write", "charmap", "snippingtool", "magnify", "narrator", "osk", "msinfo32", "dxdiag", "winver", "control", "explorer", "iexplore", "msedge", "microsoftedge", "microsoftedgecp", "microsoftedgesh", "microsoftedgedevtools", "msedgewebview2", "chrome", "firefox", "plugin-container", "opera", "brave", "vivaldi", "safari", "iexplore", "ieuser", "winword", "excel", "powerpnt", "outlook", "msaccess", "mspub", "onenote", "onenotem", "lync", "teams", "ms-teams", "skype", "skypeapp", "acrord32", "acrobat", "foxitreader", "sumatrapdf", "7z", "7zfm", "7zg", "winrar", "unrar", "winzip", "java", "javaw", "javaws", "jp2launcher", "python", "pythonw", "py", "node", "npm", "code", "devenv", "msbuild", "vbcscompiler", "csc", "vbc", "git", "bash", "sh", "mintty", "ssh", "sshd", "scp", "sftp", "putty", "pageant", "plink", "winscp", "filezilla", "vlc", "wmplayer", "mpc-hc", "steam", "steamwebhelper", "discord", "slack", "zoom", "spotify", "dropbox", "onedrive", "googledrivesync", "vmtoolsd", "vmwaretray", "vmwareuser", "vboxservice", "vboxtray", "qemu-ga", "xenservice", "mbamservice", "mbam", "avp", "avgui", "avastui", "bdagent", "bdservicehost", "vsserv", "epsecurityservice", "sqlservr", "sqlwriter", "sqlagent", "w3wp", "inetinfo", "httpd", "nginx", "tomcat", "mysqld", "postgres", "redis-server", "mongod", "registry", "ntoskrnl", "ntkrnlmp", "ntkrnlpa", "ntkrpamp", "hal", "halmacpi", "halacpi", "winlogon", "wlanext", "wlms", "wsmprovhost", "winrshost", "ngen", "ngentask", "mscorsvw", "presentationfontcache", "searchui", "cortana", "yourphone", "gamebar", "gamebarpresencewriter", "widgets", "phoneexperiencehost", "lockapp", "mobsync", "mstsc", "rdpclip", "tstheme", "rdpinput", "credentialuihost", "useroobebroker", "oobe", "setup", "setuphost", "installer", "update", "updater", "autoupdate", "googleupdate", "msedgeupdate", "adobearm", "armsvc", "jusched", "jucheck", "igfxem", "igfxtray", "hkcmd", "nvcontainer", "nvdisplay.container", "nvtray", "rtkaudioservice", "rtkngui64", "ravcpl64", "synaptics", "syntpenh", "etdctrl"]
WIN_MODULES = ["ntdll", "kernel32", "kernelbase", "user32", "gdi32", "gdi32full", "win32u", "advapi32", "sechost", "rpcrt4", "combase", "ole32", "oleaut32", "shell32", "shlwapi", "shcore", "msvcrt", "ucrtbase", "msvcp_win", "comctl32", "comdlg32", "ws2_32", "wininet", "winhttp", "urlmon", "iertutil", "ieframe", "ieshims", "mshtml", "jscript", "jscript9", "vbscript", "crypt32", "cryptbase", "cryptsp", "bcrypt", "bcryptprimitives", "ncrypt", "wintrust", "imagehlp", "dbghelp", "dbgcore", "psapi", "version", "winmm", "setupapi", "cfgmgr32", "devobj", "netapi32", "netutils", "wkscli", "srvcli", "samcli", "secur32", "sspicli", "kerberos", "msv1_0", "wdigest", "tspkg", "schannel", "lsasrv", "samsrv", "dnsapi", "iphlpapi", "nsi", "mswsock", "wshtcpip", "userenv", "profapi", "powrprof", "uxtheme", "dwmapi", "d3d9", "d3d10", "d3d10_1", "d3d11", "d3d12", "dxgi", "dxcore", "d2d1", "dwrite", "opengl32", "glu32", "ddraw", "dsound", "dinput", "dinput8", "xinput1_3", "xinput1_4", "xinput9_1_0", "mfplat", "mf", "mfreadwrite", "propsys", "windows.storage", "wldp", "amsi", "mpoav", "mpclient", "clr", "clrjit", "mscoree", "mscoreei", "mscorlib", "mscorwks", "system.ni", "system.core.ni", "coreclr", "hostfxr", "hostpolicy", "wow64", "wow64win", "wow64cpu", "wow64base", "wow64con", "apphelp", "aclayers", "acgenral", "kernel.appcore", "msasn1", "mpr", "oleacc", "textshaping", "winsta", "wtsapi32", "wevtapi", "taskschd", "sxs", "clbcatq", "cfgmgr32", "hid", "winusb", "wbemcomn", "wbemprox", "wbemsvc", "fastprox", "wmiclnt", "tdh", "pdh", "msctf", "imm32", "usp10", "lpk", "msimg32", "riched20", "riched32", "msftedit", "atl", "mfc42", "mfc140", "mfc140u", "vcruntime140", "vcruntime140_1", "msvcp140", "msvcp140_1", "msvcp140_2", "concrt140", "vcomp140", "msvcr71", "msvcr80", "msvcr90", "msvcr100", "msvcr110", "msvcr120", "msvcp60", "msvcp71", "msvcp80", "msvcp90", "msvcp100", "msvcp110", "msvcp120", "ucrtbased", "vcruntime140d", "python27", "python3", "python36", "python37", "python38", "python39", "python310", "python311", "python312", "jvm", "java", "jli", "nss3", "xul", "mozglue", "freebl3", "softokn3", "nssdbm3", "libeay32", "ssleay32", "libcrypto-1_1", "libssl-1_1", "libcrypto-3", "libssl-3", "chrome_elf", "chrome", "libegl", "libglesv2", "msedge_elf", "msedge", "winspool", "drvstore", "spoolss", "localspl", "printui", "inetcomm", "msoert2", "mapi32", "olmapi32", "outllib", "mso", "mso20win32client", "mso30win32client", "mso40uiwin32client", "wwlib", "oart", "excel.exe", "ntmarta", "authz", "samlib", "logoncli", "cscapi", "dsrole", "davclnt", "davhlpr", "ntlanman", "drprov", "rasapi32", "rasman", "rtutils", "tapi32", "fwpuclnt", "firewallapi", "dhcpcsvc", "dhcpcsvc6", "webio", "vaultcli", "credui", "cryptui", "cryptnet", "wer", "faultrep", "dbgeng", "msdia140", "symsrv", "edgehtml", "chakra", "chakracore", "eshims", "emodel", "windows.ui", "windows.ui.xaml", "twinapi", "twinapi.appcore"]
WIN_DRIVERS = ["ntfs", "fastfat", "refs", "exfat", "udfs", "cdfs", "fltmgr", "ksecdd", "ksecpkg", "cng", "tcpip", "tcpip6", "afd", "netbt", "netio", "ndis", "ndiswan", "http", "mrxsmb", "mrxsmb10", "mrxsmb20", "rdbss", "srv", "srv2", "srvnet", "mup", "dfsc", "nsiproxy", "tdx", "wfplwfs", "fwpkclnt", "disk", "partmgr", "volmgr", "volmgrx", "volsnap", "mountmgr", "classpnp", "storport", "ataport", "atapi", "storahci", "stornvme", "iastor", "iastorv", "iastorav", "iastora", "usbport", "usbhub", "usbhub3", "usbxhci", "usbehci", "usbuhci", "usbohci", "usbccgp", "usbstor", "hidusb", "hidclass", "hidparse", "kbdclass", "mouclass", "kbdhid", "mouhid", "i8042prt", "serial", "serenum", "parport", "acpi", "acpiex", "pci", "pcw", "msisadrv", "intelppm", "amdppm", "processr", "intelpep", "wdf01000", "wdfldr", "wpprecorder", "cng", "ksecdd", "clfs", "tm", "werkernel", "win32k", "win32kbase", "win32kfull", "dxgkrnl", "dxgmms1", "dxgmms2", "watchdog", "basicdisplay", "basicrender", "monitor", "vga", "videoprt", "nvlddmkm", "atikmdag", "atikmpag", "amdkmdag", "igdkmd64", "igdkmdn64", "igdkmd32", "nvhda64v", "hdaudbus", "hdaudio", "portcls", "ks", "ksthunk", "drmk", "swenum", "umbus", "rdyboost", "fvevol", "bitlocker", "iorate", "ahcache", "cimfs", "bindflt", "wcifs", "wof", "filecrypt", "fileinfo", "npfs", "msfs", "null", "beep", "vdrvroot", "spaceport", "storqosflt", "luafv", "cldflt", "wd", "wdfilter", "wdboot", "wdnisdrv", "mpfilter", "mpksl", "hal", "halmacpi", "ci", "cng", "pshed", "bootvid", "kdcom", "kdnet", "kd", "netadaptercx", "e1g60", "e1i63x64", "e1d65x64", "e1r65x64", "rt640x64", "rtwlane", "netwtw04", "netwtw06", "athw8x", "bcmwl63a", "vmci", "vmmouse", "vmhgfs", "vmxnet3", "vmxnet", "vsock", "vm3dmp", "vmusb", "vboxguest", "vboxsf", "vboxmouse", "vboxvideo", "xenbus", "xenvbd", "xennet", "xenfilt", "viostor", "vioscsi", "netkvm", "balloon", "tdi", "tcpipreg", "rspndr", "lltdio", "mslldp", "ndisuio", "ndiscap", "vwififlt", "wfpcapture", "pacer", "qwavedrv", "mssmbios", "msrpc", "cdrom", "sfloppy", "flpydisk", "fdc", "gpuenergydrv", "bam", "dam", "condrv", "sptd", "trufos", "bdselfpr", "avc3", "avckf", "gzflt", "bdvedisk", "trufos", "bdsandbox"]
WIN_SERVICE_DLLS = ["wuaueng", "appinfo", "schedsvc", "netprofm", "nlasvc", "dnsrslvr", "dhcpcore", "gpsvc", "themeservice", "audiosrv", "audioendpointbuilder", "bfe", "mpssvc", "wscsvc", "wersvc", "cryptsvc", "lmhsvc", "trkwks", "sens", "termsrv", "rdpcorets", "samsrv", "lsm", "profsvc", "usermgr"]
# api-set contracts: api-ms-win-<area>-<name>-l1-<major>-<minor>.dll
API_SETS = {
    "core": """file processthreads synch heap memory handle errorhandling libraryloader string console
        registry localization sysinfo rtlsupport debug profile timezone util datetime interlocked io
        namedpipe fibers threadpool wow64 psapi processenvironment com delayload job realtime shlwapi
        kernel32-legacy privateprofile version winrt winrt-string winrt-error path url largeinteger""",
    "crt": "runtime stdio heap string convert math locale time filesystem environment utility conio multibyte private",
    "security": "base sddl lsalookup cryptoapi credentials provider systemfunctions",
    "eventing": "provider controller consumer classicprovider",
    "shell": "shellcom shellfolders namespace",
}
EXT_PATTERNS = (".exe", ".dll", ".sys")

# --------------------------------------------------------------------------- Linux
LINUX_TASKS = ["init", "systemd", "systemd-journald", "systemd-udevd", "systemd-logind", "systemd-networkd", "systemd-resolved", "systemd-timesyncd", "systemd-hostnamed", "systemd-localed", "systemd-machined", "systemd-oomd", "systemd-userdbd", "systemd-homed", "kthreadd", "ksoftirqd", "kworker", "kswapd0", "khugepaged", "kcompactd0", "kdevtmpfs", "kauditd", "khungtaskd", "oom_reaper", "writeback", "migration", "rcu_sched", "rcu_bh", "rcu_preempt", "watchdogd", "jbd2", "ext4-rsv-conver", "scsi_eh_0", "scsi_tmf_0", "kblockd", "ata_sff", "md", "edac-poller", "devfreq_wq", "kintegrityd", "kthrotld", "irq", "ipv6_addrconf", "cryptd", "xfsaild", "xfs-buf", "bash", "sh", "dash", "zsh", "ksh", "csh", "tcsh", "fish", "busybox", "login", "agetty", "getty", "sshd", "ssh", "scp", "sftp-server", "sudo", "su", "cron", "crond", "atd", "anacron", "rsyslogd", "syslog-ng", "journalctl", "dbus-daemon", "dbus-broker", "polkitd", "udisksd", "upowerd", "networkmanager", "nm-dispatcher", "wpa_supplicant", "dhclient", "dhcpcd", "avahi-daemon", "cupsd", "bluetoothd", "accounts-daemon", "snapd", "containerd", "dockerd", "docker", "containerd-shim", "runc", "kubelet", "kube-proxy", "etcd", "podman", "crio", "apache2", "httpd", "nginx", "lighttpd", "php-fpm", "mysqld", "mariadbd", "postgres", "redis-server", "memcached", "mongod", "rabbitmq-server", "java", "python", "python2", "python3", "python2.7", "python3.6", "python3.7", "python3.8", "python3.9", "python3.10", "python3.11", "python3.12", "perl", "ruby", "node", "npm", "php", "lua", "tclsh", "gdb", "strace", "ltrace", "valgrind", "perf", "top", "htop", "ps", "ls", "cat", "cp", "mv", "rm", "ln", "chmod", "chown", "grep", "sed", "awk", "gawk", "find", "xargs", "tar", "gzip", "gunzip", "bzip2", "xz", "zip", "unzip", "curl", "wget", "nc", "ncat", "socat", "nmap", "tcpdump", "iptables", "nft", "ip", "ifconfig", "route", "netstat", "ss", "ping", "traceroute", "dig", "nslookup", "host", "mount", "umount", "fdisk", "parted", "mkfs", "lsblk", "blkid", "dd", "sync", "vim", "vi", "nano", "emacs", "less", "more", "tail", "head", "sort", "uniq", "wc", "tee", "touch", "mkdir", "rmdir", "useradd", "usermod", "passwd", "xorg", "xwayland", "gnome-shell", "gnome-session", "kwin_x11", "kwin_wayland", "plasmashell", "lightdm", "gdm", "gdm3", "sddm", "pulseaudio", "pipewire", "wireplumber", "firefox", "chrome", "chromium", "thunderbird", "libreoffice", "soffice.bin", "code", "auditd", "apparmor_parser", "snap", "lxd", "qemu-system-x86", "qemu-kvm", "libvirtd", "virtlogd", "virtqemud", "modprobe", "insmod", "rmmod", "lsmod", "depmod", "kmod", "udevadm"]
LINUX_MODULES = ["ext4", "ext3", "ext2", "xfs", "btrfs", "vfat", "fat", "msdos", "ntfs", "ntfs3", "exfat", "isofs", "udf", "nfs", "nfsd", "nfsv4", "lockd", "sunrpc", "cifs", "fuse", "overlay", "squashfs", "zram", "loop", "dm_mod", "dm_crypt", "dm_mirror", "dm_snapshot", "dm_thin_pool", "md_mod", "raid0", "raid1", "raid10", "raid456", "ahci", "libahci", "libata", "sd_mod", "sr_mod", "sg", "scsi_mod", "virtio", "virtio_pci", "virtio_blk", "virtio_net", "virtio_scsi", "virtio_balloon", "virtio_console", "virtio_ring", "nvme", "nvme_core", "e1000", "e1000e", "igb", "ixgbe", "i40e", "ice", "r8169", "tg3", "bnx2", "vmxnet3", "vmw_vmci", "vmw_balloon", "vmw_vsock_vmci_transport", "vboxguest", "vboxsf", "xen_blkfront", "xen_netfront", "usbcore", "usb_storage", "uas", "ehci_hcd", "xhci_hcd", "xhci_pci", "ohci_hcd", "uhci_hcd", "hid", "hid_generic", "usbhid", "evdev", "i2c_core", "i2c_piix4", "i2c_i801", "snd", "snd_pcm", "snd_timer", "snd_hda_intel", "snd_hda_codec", "soundcore", "drm", "drm_kms_helper", "i915", "amdgpu", "radeon", "nouveau", "nvidia", "nvidia_drm", "nvidia_modeset", "nvidia_uvm", "ttm", "kvm", "kvm_intel", "kvm_amd", "vhost", "vhost_net", "tun", "tap", "bridge", "stp", "llc", "bonding", "8021q", "macvlan", "veth", "vxlan", "ip_tables", "iptable_filter", "iptable_nat", "ip6_tables", "nf_tables", "nf_conntrack", "nf_nat", "nf_defrag_ipv4", "nf_defrag_ipv6", "x_tables", "xt_conntrack", "xt_nat", "xt_tcpudp", "xt_mark", "br_netfilter", "ipv6", "af_packet", "crc32c_intel", "crc32_pclmul", "ghash_clmulni_intel", "aesni_intel", "aes_x86_64", "crypto_simd", "cryptd", "sha256_generic", "intel_rapl_msr", "intel_rapl_common", "coretemp", "k10temp", "acpi_cpufreq", "intel_pstate", "pcspkr", "serio_raw", "psmouse", "input_leds", "joydev", "mousedev", "sch_fq_codel", "sch_htb", "tcp_bbr", "binfmt_misc", "autofs4", "efivarfs", "configfs", "ecryptfs", "selinux", "apparmor"]
EXPORTS = ["NtOpenFile", "NtCreateFile", "NtReadFile", "NtWriteFile", "NtClose", "NtOpenProcess", "NtOpenThread", "NtCreateThreadEx", "NtAllocateVirtualMemory", "NtFreeVirtualMemory", "NtProtectVirtualMemory", "NtReadVirtualMemory", "NtWriteVirtualMemory", "NtQueryVirtualMemory", "NtMapViewOfSection", "NtUnmapViewOfSection", "NtCreateSection", "NtQueueApcThread", "NtSetContextThread", "NtGetContextThread", "NtResumeThread", "NtSuspendThread", "NtTerminateProcess", "NtTerminateThread", "NtQueryInformationProcess", "NtSetInformationProcess", "NtQuerySystemInformation", "NtDelayExecution", "NtContinue", "NtCreateUserProcess", "NtCreateProcessEx", "NtDeviceIoControlFile", "NtLoadDriver", "NtSetValueKey", "NtOpenKey", "ZwOpenFile", "ZwCreateFile", "ZwClose", "ZwAllocateVirtualMemory", "ZwProtectVirtualMemory", "ZwWriteVirtualMemory", "ZwMapViewOfSection", "ZwQueueApcThread", "ZwSetContextThread", "ZwQuerySystemInformation", "LdrLoadDll", "LdrUnloadDll", "LdrGetProcedureAddress", "LdrInitializeThunk", "LdrGetDllHandle", "KiUserApcDispatcher", "KiUserExceptionDispatcher", "KiUserCallbackDispatcher", "KiRaiseUserExceptionDispatcher", "RtlUserThreadStart", "RtlDispatchException", "RtlAllocateHeap", "RtlFreeHeap", "RtlCreateHeap", "RtlExitUserThread", "RtlExitUserProcess", "RtlAddVectoredExceptionHandler", "RtlCreateUserThread", "RtlInitUnicodeString", "RtlCopyMemory", "RtlMoveMemory", "DbgBreakPoint", "DbgUiRemoteBreakin", "DbgPrint", "EtwEventWrite", "EtwEventWriteFull", "EtwEventRegister", "CreateProcessA", "CreateProcessW", "CreateProcessInternalW", "CreateRemoteThread", "CreateRemoteThreadEx", "CreateThread", "VirtualAlloc", "VirtualAllocEx", "VirtualProtect", "VirtualProtectEx", "VirtualFree", "WriteProcessMemory", "ReadProcessMemory", "LoadLibraryA", "LoadLibraryW", "LoadLibraryExA", "LoadLibraryExW", "GetProcAddress", "GetModuleHandleA", "GetModuleHandleW", "OpenProcess", "OpenThread", "QueueUserAPC", "SetThreadContext", "GetThreadContext", "ResumeThread", "SuspendThread", "CreateFileA", "CreateFileW", "ReadFile", "WriteFile", "DeviceIoControl", "CloseHandle", "ExitProcess", "TerminateProcess", "WinExec", "ShellExecuteA", "ShellExecuteW", "ShellExecuteExW", "SetWindowsHookExA", "SetWindowsHookExW", "CallNextHookEx", "MessageBoxA", "MessageBoxW", "GetMessageW", "DispatchMessageW", "PeekMessageW", "SendMessageW", "PostMessageW", "RegOpenKeyExA", "RegOpenKeyExW", "RegSetValueExA", "RegSetValueExW", "RegCreateKeyExW", "RegQueryValueExW", "CoCreateInstance", "CoInitialize", "CoInitializeEx", "OleInitialize", "SysAllocString", "InternetOpenA", "InternetOpenW", "InternetConnectW", "HttpOpenRequestW", "HttpSendRequestW", "URLDownloadToFileW", "WSAStartup", "WSASocketW", "socket", "connect", "send", "recv", "bind", "listen", "accept", "getaddrinfo", "gethostbyname", "AmsiScanBuffer", "AmsiScanString", "AmsiInitialize", "BaseThreadInitThunk", "IsDebuggerPresent", "CheckRemoteDebuggerPresent", "GetTickCount", "QueryPerformanceCounter", "Sleep", "SleepEx", "WaitForSingleObject", "WaitForMultipleObjects", "memcpy", "memmove", "memset", "strcpy", "strlen", "wcslen", "malloc", "free", "realloc", "calloc", "printf", "sprintf"]


def _words(text: str) -> list[str]:
    return text.split()


MORE_PROCESSES = _words("""
mrt msra quickassist psr stikynot sndvol tabtip wisptis eudcedit iscsicpl odbcad32 recdisc rstrui sdclt
shrpubw sigverif slui sysedit systempropertiesadvanced tcmsetup unregmp2 utilman verifier wfs wiaacmgr
winsat wmpnetwk wpr wsl wslhost wslservice ubuntu vmms vmwp vmcompute vmmem com.docker.service
docker docker-desktop kubectl helm terraform ansible vagrant packer az aws gcloud azcopy
teamviewer teamviewer_service anydesk logmein ultravnc vncviewer vncserver tvnserver radmin ammyy
keepass keepassxc 1password bitwarden lastpass nordvpn openvpn openvpn-gui wireguard tailscale tailscaled
wireshark dumpcap tshark fiddler burpsuite procmon procmon64 procexp procexp64 autoruns autoruns64 tcpview
sysmon sysmon64 psexec psexesvc pslist pskill handle handle64 listdlls sigcheck strings accesschk
x64dbg x32dbg ollydbg windbg ida ida64 ghidra dnspy ilspy pestudio die processhacker
ucmapi msoia officeclicktorun officec2rclient appvshnotify integrator msosync msouc
paint3d photos video.ui music.ui calculator windowscamera windowsterminal wt openconsole
obs64 audacity gimp-2.10 inkscape blender krita handbrake ffmpeg ffprobe youtube-dl yt-dlp
thunderbird seamonkey palemoon waterfox librewolf tor iridium yandex maxthon
notepad++ sublime_text atom vscodium idea64 pycharm64 clion64 goland64 rider64 webstorm64 studio64 eclipse
netbeans64 adb fastboot emulator qemu-system-x86_64 virtualbox virtualboxvm vboxheadless vboxsvc
vmware vmware-vmx vmware-authd vmnat vmnetdhcp vmware-hostd
""")
MORE_MODULES = _words("""
actxprxy adsldp adsldpc apisetschema appxdeploymentclient authui avrt batmeter bcp47langs biwinrt
cabinet certcli certenroll clusapi cmutil coml2 comsvcs coremessaging coreuicomponents credprovs cryptngc
d3d8 d3d8thk d3dim d3dref dataexchange dcomp devenum devmgr difxapi dmcmnutils dmusic
dpapi dpx drvsetup dsparse dsreg dui70 duser dxva2 efswrt elscore esent evr explorerframe feclient fltlib
fontsub framedynos fveapi fwbase fwpolicyiomgr gpapi hnetcfg ieadvpack ieapfltr ieui imapi2 inetmib1 inputhost
iri joinutil ksuser ktmw32 linkinfo magnification mfc100 mfc110 mfc120 mfperfhelper mi midimap
mlang mmdevapi mprapi msacm32 mscms msdart msdmo msdrm msi msimtf msisip msls31 msoert msrating
msvfw32 msxml3 msxml6 ncobjapi ndfapi netshell newdev ninput normaliz
npmproxy ntasn1 ntdsapi ntshrui odbc32 oleacchooks oledlg pcacli photowiz pnrpnsp
policymanager profext puiapi qmgrprxy query rasadhlp reagent resutils rmclient rsaenh sapi
sas scecli sclogon sensapi setupcln shdocvw shfolder shsvcs slc spfileq spinf spp sppc srclient
srpapi sti structuredquery sxshared sxssrv synccenter syssetup t2embed tapi3 tbs thumbcache
tquery twext ubpm uianimation uiautomationcore uireng umpdc unattend updatepolicy
usbceip userdataservice usermgrcli utildll uxinit vbsapi vssapi vsstrace
wcmapi wdscore webauthn webservices wevtsvc wfapigp whhelper windowscodecs windowscodecsext winbrand winipsec
winmmbase winnsi winrnr winscard winsqlite3 winsrpc winsync wintypes wlanapi wlanutil wmsgapi wpdshext
wscapi wscinterop wsnmp32 wsock32 xmllite xpsservices
""")
MORE_DRIVERS = _words("""
3ware adp80xx amdsata amdsbs amdxata arcsas b06bdrv bxvbda cht4vx64 ebdrv hpsamd iastorvd itsas35i lsi_sas
lsi_sas2i lsi_sas3i megasas megasas2i megasas35i megasr mvumis nvraid percsas2i percsas3i sisraid2 sisraid4
vhdmp vhf vmbus vmbusr storvsc netvsc hyperkbd hypervideo vmgencounter vpci vmsproxy vid hvservice hvsocket
winhv winhvr intelide pciide pciidex msahci ehstorclass ehstortcgdrv ufx01000 ucx01000 usbvideo usbaudio
usbprint usbser wudfrd wudfpf umpass rdpbus rdpdr rdpvideominiport tsusbhub tsusbflt terminpt
mpsdrv netbios nwifi vwifibus wanarp wanarpv6 ndproxy raspppoe raspptp rassstp rasl2tp rasagilevpn asyncmac
irenum ndisvirtualbus netadapter smbdirect mrxdav webdav peauth secdrv spsys tpm acpidev acpipagr
acpitime cmbatt compositebus gencounter hidi2c hidbth bthenum bthport bthusb bthmodem rfcomm
""")


def windows_names() -> list[str]:
    out: list[str] = []
    out += [f"{s}.exe" for s in WIN_PROCESSES + MORE_PROCESSES]
    out += [f"{s}.dll" for s in WIN_MODULES + WIN_SERVICE_DLLS + MORE_MODULES]
    out += [f"{s}.sys" for s in WIN_DRIVERS + MORE_DRIVERS]
    out += [f"{s}.exe" for s in WIN_DRIVERS if s.startswith(("nt", "hal"))]
    for area, names in API_SETS.items():
        for name in names.split():
            for major in (1, 2):
                for minor in (0, 1, 2, 3):
                    out.append(f"api-ms-win-{area}-{name}-l{major}-1-{minor}.dll")
    for version in ("2.7", "3.2", "3.5", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"):
        out += [f"python{version}.exe", f"python{version.replace('.', '')}.dll"]
    for n in range(0, 10):
        out += [f"d3dx9_{24 + n}.dll", f"d3dcompiler_{40 + n}.dll", f"xinput1_{n}.dll", f"msvcr{70 + 10 * n}.dll"]
    for drive in ("c", "d"):
        out.append(f"{drive}:\\windows\\system32\\ntoskrnl.exe")
    out += [f"\\driver\\{s}" for s in WIN_DRIVERS]
    out += [f"\\filesystem\\{s}" for s in ("ntfs", "fastfat", "refs", "exfat", "udfs", "cdfs", "fltmgr", "npfs", "msfs")]
    out += [f"\\device\\harddiskvolume{n}" for n in range(1, 10)]
    return out


def linux_names() -> list[str]:
    out: list[str] = []
    out += LINUX_TASKS
    out += LINUX_MODULES
    out += [f"{m}.ko" for m in LINUX_MODULES]
    out += [m.replace("_", "-") for m in LINUX_MODULES if "_" in m]
    for cpu in range(0, 16):
        out += [f"ksoftirqd/{cpu}", f"migration/{cpu}", f"cpuhp/{cpu}", f"watchdog/{cpu}"]
        out += [f"kworker/{cpu}:0", f"kworker/{cpu}:1", f"kworker/{cpu}:2", f"kworker/{cpu}:0h", f"kworker/{cpu}:1h"]
    for n in range(0, 8):
        out += [f"kworker/u{2 ** n}:0", f"kworker/u{2 ** n}:1", f"jbd2/sda{n}-8", f"jbd2/vda{n}-8", f"scsi_eh_{n}"]
    out += ["[vdso]", "[vsyscall]", "[heap]", "[stack]", "ld-linux-x86-64.so.2", "ld-linux.so.2"]
    for lib in ("c", "m", "dl", "pthread", "rt", "util", "crypt", "resolv", "nss_files", "nss_dns", "gcc_s",
                "stdc++", "z", "ssl", "crypto", "systemd", "udev", "dbus-1", "selinux", "pam", "cap", "acl"):  # fmt: skip
        out += [f"lib{lib}.so", f"lib{lib}.so.0", f"lib{lib}.so.1", f"lib{lib}.so.6", f"lib{lib}.so.3"]
    return out


def export_names() -> list[str]:
    return list(EXPORTS)


def _clean(names: Iterable[str]) -> list[str]:
    # names with the compiler's special spellings are left out: predefined names and group names
    return sorted({n for n in names if n and not (n.startswith("[") and n.endswith("]")) and n != "*" and n != "-"})


def write(directory: Path) -> dict[str, int]:
    directory.mkdir(parents=True, exist_ok=True)
    produced = {"windows.txt": windows_names(), "linux.txt": linux_names(), "exports.txt": export_names()}
    counts: dict[str, int] = {}
    for file, names in produced.items():
        lines = _clean(names)
        header = f"# generated by hvmiex.namedb.generate ({len(lines)} names); do not edit by hand\n"
        (directory / file).write_text(header + "\n".join(lines) + "\n", encoding="utf-8")
        counts[file] = len(lines)
    return counts


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else Path(__file__).resolve().parent.parent / "data" / "names"
    write(target)  # the library never prints; the files' first lines say how many names they hold
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
