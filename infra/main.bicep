// The ACI connector's Azure side, for `azd up` (or `az deployment sub create -f infra/main.bicep`).
// Two resource groups: the app's (Function App, Storage, monitoring, identity) and the ACI one the container
// groups live in, so the app's identity is Contributor on the container groups' group only, never the subscription.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name: seeds the resource names and the azd-env-name tag.')
param environmentName string

@minLength(1)
@description('Region of the Function App, its Storage and monitoring. It must offer the Flex Consumption plan.')
// The regions that offer Flex Consumption (`az functionapp list-flexconsumption-locations`), so azd offers only those
// and a typo fails before anything is created. Container groups may live elsewhere (aciRegion).
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('App resource group name; empty means rg-<environmentName>.')
param resourceGroupName string = ''

@description('Resource group of the container groups; empty means rg-<environmentName>-aci.')
param aciResourceGroupName string = ''

@description('Create the ACI resource group (false: it exists already and is only given access and events).')
param createAciResourceGroup bool = true

@description('Region of the container groups (ACI_REGION); empty means the app region.')
param aciRegion string = ''

@description('Node profile (VIRTUAL_NODE_PROFILE): default, or aci-connector-2017 for the 2017 connector\'s node names, taint and port 80 for pods without ports.')
@allowed([
  'default'
  'aci-connector-2017'
])
param virtualNodeProfile string = 'default'

@description('Virtual nodes to run (VIRTUAL_NODE_OS): linux, windows or both; empty: the profile\'s (default: linux; aci-connector-2017: both).')
@allowed([
  ''
  'linux'
  'windows'
  'linux,windows'
])
param virtualNodeOs string = ''

@description('Name of the Linux virtual node (VIRTUAL_NODE_NAME_LINUX); empty: the profile\'s (aci-connector-linux, or aci-connector-0).')
param virtualNodeNameLinux string = ''

@description('Name of the Windows virtual node (VIRTUAL_NODE_NAME_WINDOWS); empty: the profile\'s (aci-connector-windows, or aci-connector-1).')
param virtualNodeNameWindows string = ''

@description('Taint of the virtual nodes (VIRTUAL_NODE_TAINT), key[=value]:Effect.')
param virtualNodeTaint string = 'virtual-kubelet.io/provider=azure:NoSchedule'

@description('CPU cores the virtual node advertises (NODE_CPU). Keep it at or under the ACI core quota.')
@minValue(1)
param nodeCpu int = 10000

@description('Memory the virtual node advertises (NODE_MEMORY), a Kubernetes quantity.')
param nodeMemory string = '4Ti'

@description('Pods the virtual node advertises (NODE_PODS). Keep it at or under the container group quota.')
@minValue(1)
param nodePods int = 5000

@description('Ephemeral storage the virtual node advertises (NODE_EPHEMERAL_STORAGE).')
param nodeEphemeralStorage string = '100Ti'

@description('Kubernetes API server URL (KUBE_API_URL). Empty: standalone mode, pods come inline in queue messages.')
param kubeApiUrl string = ''

@secure()
@description('Token of the aci-connector-functions ServiceAccount (KUBE_BEARER_TOKEN); see scripts/make-kubeconfig.sh.')
param kubeBearerToken string = ''

@description('Key Vault secret URI holding the ServiceAccount token; when set it is used instead of kubeBearerToken.')
param kubeBearerTokenSecretUri string = ''

@description('API server CA certificate, PEM then base64 (KUBE_CA_CERT); empty uses the system CAs.')
param kubeCaCertBase64 string = ''

@secure()
@description('Bearer token the kube-apiserver audit webhook sends (AUDIT_BEARER_TOKEN); empty refuses every audit call (401) until set.')
param auditBearerToken string = ''

@secure()
@description('Access key of EVENTGRID_TOPIC_ENDPOINT (EVENTGRID_TOPIC_KEY); empty uses the app identity (give it EventGrid Data Sender).')
param eventGridTopicKey string = ''

@description('Log Analytics workspace id for the reconciler change feed (CHANGE_FEED_WORKSPACE_ID); empty: the budgeted sweep alone.')
param changeFeedWorkspaceId string = ''

@secure()
@description('Shared key of that workspace (CHANGE_FEED_WORKSPACE_KEY), written into each group\'s diagnostics.')
param changeFeedWorkspaceKey string = ''

@description('Event Grid topic endpoint for pod lifecycle CloudEvents (EVENTGRID_TOPIC_ENDPOINT); empty publishes nothing.')
param eventGridTopicEndpoint string = ''

@secure()
@description('Fallback token for serviceAccountToken volumes when no cluster issues one (SERVICE_ACCOUNT_TOKEN, standalone mode).')
param serviceAccountToken string = ''

@description('Comma-separated subnet ids for private container groups (ACI_SUBNET_IDS); give the identity subnets/join/action there.')
param aciSubnetIds string = ''

@description('Cap the virtual node\'s cpu and pods at the ACI quota left (NODE_CAPACITY_FROM_QUOTA); needs grantUsageRead.')
param nodeCapacityFromQuota bool = false

@description('The relay renews the virtual nodes\' Leases (RELAY_RENEW_LEASES); keep in step with deploy/relay.env.')
param relayRenewLeases bool = false

@description('Any other connector setting (see docs/settings.md), by name; these win over the defaults here.')
param connectorSettingsOverrides object = {}

@description('Most instances the Flex Consumption app may scale out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory of each instance (Flex Consumption sizes: 512, 2048 or 4096 MB).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Subscribe the arm_events function to the ACI resource group\'s ARM events. Needs the code deployed first: the azd postdeploy hook turns it on.')
param enableArmEvents bool = false

@description('Give the app a custom role that reads ACI quota usage (one subscription-level read action only).')
param grantUsageRead bool = true

@description('Your user object id: gets queue access to submit pods in the walkthrough. Empty: none.')
param principalId string = ''

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var appResourceGroupName = empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
var containerResourceGroupName = empty(aciResourceGroupName) ? 'rg-${environmentName}-aci' : aciResourceGroupName
var containerRegion = empty(aciRegion) ? location : aciRegion
var functionAppName = 'func-aci-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'

// Every connector setting that is not a secret and not a host storage setting (those are in app/function-app.bicep).
// tests/unit/test_infra.py keeps this set equal to shared/config.py SETTINGS.
var connectorSettings = {
  AZURE_SUBSCRIPTION_ID: subscription().subscriptionId
  ACI_RESOURCE_GROUP: containerResourceGroupName
  ACI_REGION: containerRegion
  ARM_ENDPOINT: environment().resourceManager
  AZURE_CLIENT_ID: identity.outputs.clientId
  AZURE_TENANT_ID: tenant().tenantId
  KUBE_API_URL: kubeApiUrl
  KUBE_CA_CERT: empty(kubeCaCertBase64) ? '' : base64ToString(kubeCaCertBase64)
  KUBECONFIG: ''
  KUBE_CONTEXT: ''
  KUBE_IN_CLUSTER: 'false'
  VIRTUAL_NODE_PROFILE: virtualNodeProfile
  VIRTUAL_NODE_OS: virtualNodeOs
  VIRTUAL_NODE_NAME_LINUX: virtualNodeNameLinux
  VIRTUAL_NODE_NAME_WINDOWS: virtualNodeNameWindows
  VIRTUAL_NODE_TAINT: virtualNodeTaint
  NODE_CPU: string(nodeCpu)
  NODE_MEMORY: nodeMemory
  NODE_PODS: string(nodePods)
  NODE_EPHEMERAL_STORAGE: nodeEphemeralStorage
  DEFAULT_CPU: '1'
  DEFAULT_MEMORY_GB: '1.5'
  RECONCILE_SCHEDULE: '*/10 * * * * *'
  ARM_READS_PER_MINUTE: '300'
  CHANGE_FEED_WORKSPACE_ID: changeFeedWorkspaceId
  CHANGE_FEED_ENDPOINT: 'https://api.loganalytics.io/v1'
  RELAY_HEALTH_PORT: '8080'
  RELAY_COALESCE_MS: '200'
  RELAY_BUFFER_SIZE: '10000'
  RELAY_RENEW_LEASES: string(relayRenewLeases)
  RELAY_KUBELET_ENABLED: 'false'
  RELAY_KUBELET_PORT: '10250'
  RELAY_POD_IP: ''
  RELAY_POD_NAME: ''
  RELAY_KUBELET_TLS_DIR: ''
  RELAY_KUBELET_CLIENT_CA: ''
  RELAY_KUBELET_ARM_READS_PER_MINUTE: '120'
  RELAY_KUBELET_LOG_POLL_SECONDS: '2'
  RELAY_KUBELET_STATS_SECONDS: '60'
  AZURE_METRICS_ENDPOINT: ''
  AUDIT_MAX_BODY_BYTES: '3145728'
  NODE_CAPACITY_FROM_QUOTA: string(nodeCapacityFromQuota)
  CAPACITY_QUOTA_CACHE_SECONDS: '60'
  CAPACITY_PODS_CACHE_SECONDS: '5'
  EVENTGRID_TOPIC_ENDPOINT: eventGridTopicEndpoint
  ACI_SUBNET_IDS: aciSubnetIds
  CLUSTER_DNS_IP: ''
  CLUSTER_DOMAIN: 'cluster.local'
  ACI_MAX_CPU: '4'
  ACI_MAX_MEMORY_GB: '16'
  REGISTRY_TIMEOUT_SECONDS: '10'
  CLUSTER_CIDR: ''
  KUBE_PROXY_SERVICE_ACCOUNT: 'aci-connector/aci-connector-kube-proxy'
  SERVICE_ACCOUNT_TOKEN_MAX_SECONDS: '31536000'
  UNENFORCEABLE_POD_FIELDS: 'reject'
  VIRTUAL_NODE_IP: ''
  CLUSTER_ID: ''
  LOG_LEVEL: 'INFO'
}

resource appGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: appResourceGroupName
  location: location
  tags: tags
}

resource aciGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = if (createAciResourceGroup) {
  name: containerResourceGroupName
  location: containerRegion
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: appGroup
  params: {
    name: 'id-aci-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: appGroup
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: appGroup
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: appGroup
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    identityPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
  }
}

module functionApp 'app/function-app.bicep' = {
  name: 'functionApp'
  scope: appGroup
  params: {
    name: functionAppName
    location: location
    tags: tags
    planName: 'plan-${resourceToken}'
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    appSettings: union(connectorSettings, connectorSettingsOverrides)
    kubeBearerToken: kubeBearerToken
    kubeBearerTokenSecretUri: kubeBearerTokenSecretUri
    auditBearerToken: auditBearerToken
    eventGridTopicKey: eventGridTopicKey
    changeFeedWorkspaceKey: changeFeedWorkspaceKey
    serviceAccountToken: serviceAccountToken
  }
  dependsOn: [
    rbac
  ]
}

module aciAccess 'app/aci-access.bicep' = {
  name: 'aciAccess'
  scope: resourceGroup(containerResourceGroupName)
  params: {
    identityPrincipalId: identity.outputs.principalId
    functionAppId: functionApp.outputs.id
    enableArmEvents: enableArmEvents
  }
  dependsOn: [
    aciGroup
  ]
}

module usageReader 'app/usage-reader.bicep' = if (grantUsageRead) {
  name: 'usageReader'
  params: {
    identityPrincipalId: identity.outputs.principalId
  }
}

// Names only: no secret, key or connection string leaves the deployment.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = appGroup.name
output ACI_RESOURCE_GROUP string = containerResourceGroupName
output ACI_REGION string = containerRegion
output AZURE_FUNCTION_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output AZURE_STORAGE_ACCOUNT string = storage.outputs.name
output AZURE_QUEUE_ENDPOINT string = storage.outputs.queueEndpoint
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output ARM_EVENTS_ENABLED bool = enableArmEvents
