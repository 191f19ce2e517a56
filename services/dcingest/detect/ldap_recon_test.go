package detect

import (
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
)

func TestLDAPRecon(t *testing.T) {
	t.Parallel()
	// Hand-written: no recording has Directory Service 1644 (it needs NTDS "15 Field
	// Engineering" diagnostics). Insertion strings in Microsoft's documented order (client,
	// starting node, filter, scope, attributes, controls, visited, returned, …) as the EVTX
	// conversion keeps them, and the rendered message as NXLog keeps it.
	evtx := func(second, filter string) string {
		return `{"EventID":1644,"Channel":"Directory Service","Computer":"DC01.corp.local","TimeCreated":"2021-03-01T10:00:` + second +
			`Z","ProviderName":"Microsoft-Windows-ActiveDirectory_DomainService","Data":["10.0.0.66:50123","DC=corp,DC=local","` + filter +
			`","subtree","[all_with_list]","none","1204","12","idx_samAccountType:1204:N","1230","0","0","0","0","15","none","CORP\\eve"]}`
	}
	nxlog := `{"EventID":1644,"Channel":"Directory Service","Hostname":"DC01.corp.local","EventTime":"2021-03-01 06:00:30","@timestamp":"2021-03-01T10:00:31.000Z","Message":"Internal event: A client issued a search operation with the following options. \r\n \r\nClient:\r\n10.0.0.66:50140 \r\nStarting node:\r\nDC=corp,DC=local \r\nFilter:\r\n ( &  (samAccountType=805306368)  (userAccountControl:1.2.840.113556.1.4.803:=4194304) ) \r\nSearch scope:\r\nsubtree \r\n"}`
	mk := func(*Sessions) detection.Detector { return NewLDAPRecon() }
	lines := []string{
		evtx("00", ` ( &  (samAccountType=805306368)  (servicePrincipalName=*) ) `),
		evtx("10", ` (adminCount=1) `),
		nxlog,
	}
	reconCheck(t, reconRunEvents(reconParse(t, lines...), mk), "ldap-recon", []string{"T1087.002"},
		[]reconWant{{actor: `corp\eve`, sourceIP: "10.0.0.66", target: "dc01.corp.local", evidence: 3}})
	// An application looking up one user, and a broad user listing without a target filter.
	quiet := []string{evtx("00", ` ( &  (objectClass=user)  (sAMAccountName=alice) ) `), evtx("01", ` (samAccountType=805306368) `)}
	reconCheck(t, reconRunEvents(reconParse(t, quiet...), mk), "ldap-recon", nil, nil)
}
