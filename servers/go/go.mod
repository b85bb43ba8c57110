module archbench/servers/go

go 1.19
