package wire

import "strconv"

// rpcInterface names an RPC interface the way Zeek's dce_rpc.log does, with its operations
// by opnum.
type rpcInterface struct {
	name string
	ops  map[uint16]string
}

// rpcInterfaces are the interfaces identity detections care about, by UUID.
var rpcInterfaces = map[string]rpcInterface{
	"e3514235-4b06-11d1-ab04-00c04fc2dcd2": {"drsuapi", map[uint16]string{
		0: "DRSBind", 1: "DRSUnbind", 2: "DRSReplicaSync", 3: "DRSGetNCChanges", 4: "DRSUpdateRefs",
		5: "DRSReplicaAdd", 6: "DRSReplicaDel", 7: "DRSReplicaModify", 8: "DRSVerifyNames",
		9: "DRSGetMemberships", 10: "DRSInterDomainMove", 11: "DRSGetNT4ChangeLog", 12: "DRSCrackNames",
		13: "DRSWriteSPN", 14: "DRSRemoveDsServer", 15: "DRSRemoveDsDomain", 16: "DRSDomainControllerInfo",
		17: "DRSAddEntry", 18: "DRSExecuteKCC", 19: "DRSGetReplInfo", 20: "DRSAddSidHistory",
		21: "DRSGetMemberships2", 22: "DRSReplicaVerifyObjects", 23: "DRSGetObjectExistence",
		24: "DRSQuerySitesByCost",
	}},
	"12345778-1234-abcd-ef00-0123456789ac": {"samr", map[uint16]string{
		0: "SamrConnect", 1: "SamrCloseHandle", 2: "SamrSetSecurityObject", 3: "SamrQuerySecurityObject",
		5: "SamrLookupDomainInSamServer", 6: "SamrEnumerateDomainsInSamServer", 7: "SamrOpenDomain",
		8: "SamrQueryInformationDomain", 9: "SamrSetInformationDomain", 10: "SamrCreateGroupInDomain",
		11: "SamrEnumerateGroupsInDomain", 12: "SamrCreateUserInDomain", 13: "SamrEnumerateUsersInDomain",
		14: "SamrCreateAliasInDomain", 15: "SamrEnumerateAliasesInDomain", 16: "SamrGetAliasMembership",
		17: "SamrLookupNamesInDomain", 18: "SamrLookupIdsInDomain", 19: "SamrOpenGroup",
		20: "SamrQueryInformationGroup", 21: "SamrSetInformationGroup", 22: "SamrAddMemberToGroup",
		23: "SamrDeleteGroup", 24: "SamrRemoveMemberFromGroup", 25: "SamrGetMembersInGroup",
		26: "SamrSetMemberAttributesOfGroup", 27: "SamrOpenAlias", 28: "SamrQueryInformationAlias",
		29: "SamrSetInformationAlias", 30: "SamrDeleteAlias", 31: "SamrAddMemberToAlias",
		32: "SamrRemoveMemberFromAlias", 33: "SamrGetMembersInAlias", 34: "SamrOpenUser", 35: "SamrDeleteUser",
		36: "SamrQueryInformationUser", 37: "SamrSetInformationUser", 38: "SamrChangePasswordUser",
		39: "SamrGetGroupsForUser", 40: "SamrQueryDisplayInformation", 41: "SamrGetDisplayEnumerationIndex",
		44: "SamrGetUserDomainPasswordInformation", 45: "SamrRemoveMemberFromForeignDomain",
		46: "SamrQueryInformationDomain2", 47: "SamrQueryInformationUser2", 48: "SamrQueryDisplayInformation2",
		49: "SamrGetDisplayEnumerationIndex2", 50: "SamrCreateUser2InDomain", 51: "SamrQueryDisplayInformation3",
		52: "SamrAddMultipleMembersToAlias", 53: "SamrRemoveMultipleMembersFromAlias",
		54: "SamrOemChangePasswordUser2", 55: "SamrUnicodeChangePasswordUser2", 56: "SamrGetDomainPasswordInformation",
		57: "SamrConnect2", 58: "SamrSetInformationUser2", 62: "SamrConnect4", 64: "SamrConnect5",
		65: "SamrRidToSid", 66: "SamrSetDSRMPassword", 67: "SamrValidatePassword",
	}},
	"12345778-1234-abcd-ef00-0123456789ab": {"lsarpc", map[uint16]string{
		0: "LsarClose", 2: "LsarEnumeratePrivileges", 3: "LsarQuerySecurityObject", 6: "LsarOpenPolicy",
		7: "LsarQueryInformationPolicy", 10: "LsarCreateAccount", 11: "LsarEnumerateAccounts",
		13: "LsarEnumerateTrustedDomains", 14: "LsarLookupNames", 15: "LsarLookupSids", 16: "LsarCreateSecret",
		17: "LsarOpenAccount", 28: "LsarOpenSecret", 30: "LsarQuerySecret", 35: "LsarEnumerateAccountsWithUserRight",
		44: "LsarOpenPolicy2", 45: "LsarGetUserName", 46: "LsarQueryInformationPolicy2",
		50: "LsarEnumerateTrustedDomainsEx", 57: "LsarLookupSids2", 58: "LsarLookupNames2",
		68: "LsarLookupNames3", 76: "LsarLookupSids3", 77: "LsarLookupNames4",
	}},
	"367abb81-9844-35f1-ad32-98f038001003": {"svcctl", map[uint16]string{
		0: "CloseServiceHandle", 1: "ControlService", 2: "DeleteService", 3: "LockServiceDatabase",
		4: "QueryServiceObjectSecurity", 5: "SetServiceObjectSecurity", 6: "QueryServiceStatus",
		7: "SetServiceStatus", 8: "UnlockServiceDatabase", 11: "ChangeServiceConfigW", 12: "CreateServiceW",
		13: "EnumDependentServicesW", 14: "EnumServicesStatusW", 15: "OpenSCManagerW", 16: "OpenServiceW",
		17: "QueryServiceConfigW", 19: "StartServiceW", 20: "GetServiceDisplayNameW", 21: "GetServiceKeyNameW",
		23: "ChangeServiceConfigA", 24: "CreateServiceA", 26: "EnumServicesStatusA", 27: "OpenSCManagerA",
		28: "OpenServiceA", 29: "QueryServiceConfigA", 31: "StartServiceA", 37: "ChangeServiceConfig2W",
		39: "QueryServiceConfig2W", 64: "OpenSCManager2", 44: "CreateServiceWOW64A", 45: "CreateServiceWOW64W",
	}},
	"1ff70682-0a51-30e8-076d-740be8cee98b": {"atsvc", map[uint16]string{
		0: "NetrJobAdd", 1: "NetrJobDel", 2: "NetrJobEnum", 3: "NetrJobGetInfo",
	}},
	"86d35949-83c9-4044-b424-db363231fd0c": {"ITaskSchedulerService", map[uint16]string{
		1: "SchRpcRegisterTask", 2: "SchRpcRetrieveTask", 12: "SchRpcRun", 13: "SchRpcDelete",
	}},
	"3dde7c30-165d-11d1-ab8f-00805f14db40": {"BackupKey", map[uint16]string{0: "BackuprKey"}},
	"12345678-1234-abcd-ef00-01234567cffb": {"netlogon", map[uint16]string{
		2: "NetrLogonSamLogon", 4: "NetrServerReqChallenge", 5: "NetrServerAuthenticate",
		6: "NetrServerPasswordSet", 15: "NetrServerAuthenticate2", 21: "NetrLogonGetCapabilities",
		26: "NetrServerAuthenticate3", 29: "NetrLogonGetDomainInfo", 30: "NetrServerPasswordSet2",
		39: "NetrLogonSamLogonEx", 45: "NetrLogonSamLogonWithFlags",
	}},
	"e1af8308-5d1f-11c9-91a4-08002b14a0fa": {"epmapper", map[uint16]string{3: "ept_map", 2: "ept_lookup"}},
	"4b324fc8-1670-01d3-1278-5a47bf6ee188": {"srvsvc", map[uint16]string{
		12: "NetrSessionEnum", 15: "NetrShareEnum", 16: "NetrShareGetInfo", 21: "NetrServerGetInfo",
	}},
	"338cd001-2244-31f1-aaaa-900038001003": {"winreg", map[uint16]string{
		2: "OpenHKLM", 6: "BaseRegCreateKey", 15: "BaseRegOpenKey", 17: "BaseRegQueryValue", 20: "BaseRegSaveKey",
		22: "BaseRegSetValue",
	}},
}

// rpcNames returns the endpoint and operation names of an interface's opnum: the UUID and
// the number when the interface or the operation is not known.
func rpcNames(uuid string, opnum uint16) (string, string) {
	i, ok := rpcInterfaces[uuid]
	if !ok {
		return uuid, "opnum_" + strconv.Itoa(int(opnum))
	}
	if op, ok := i.ops[opnum]; ok {
		return i.name, op
	}
	return i.name, "opnum_" + strconv.Itoa(int(opnum))
}
