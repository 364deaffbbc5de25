// The Function App on the Flex Consumption plan (FC1, Linux, Python 3.13), running as the user-assigned identity.
// 3.13 is the newest Python that Functions supports as GA on Flex Consumption (3.14 is preview); it is the version
// the real-worker indexing check (tests/integration/test_function_indexing.py, .venv313) runs the app on.
// Flex Consumption takes the runtime from functionAppConfig and rejects FUNCTIONS_WORKER_RUNTIME,
// FUNCTIONS_EXTENSION_VERSION and the WEBSITE_CONTENT* / WEBSITE_RUN_FROM_PACKAGE settings.
param name string
param location string
param tags object
param planName string
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string
param maximumInstanceCount int
param instanceMemoryMB int
@description('Connector settings (shared/config.py), non-secret.')
param appSettings object
@secure()
param kubeBearerToken string
@description('Key Vault secret URI of the ServiceAccount token; wins over kubeBearerToken when set.')
param kubeBearerTokenSecretUri string = ''
@secure()
param auditBearerToken string
@secure()
param eventGridTopicKey string
@secure()
param changeFeedWorkspaceKey string
@secure()
param serviceAccountToken string
param serviceName string = 'api'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

// The host's own settings: identity-based AzureWebJobsStorage (no connection string exists: shared keys are off)
// and Entra ID telemetry. AzureWebJobsStorage__queueServiceUri is also what the connector's QueueStore reads.
var hostSettings = {
  AzureWebJobsStorage__accountName: account.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__queueServiceUri: account.properties.primaryEndpoints.queue
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=${identityClientId}'
  // Host concurrency the connector relies on: host.json's queue batchSize (16) + newBatchThreshold (8) hand one
  // instance up to 24 messages, but sync Python functions run on the worker's thread pool, whose default is
  // min(32, cores + 4) = 5 threads on a 1-2 vCPU Flex instance. Each invocation mostly waits on ARM (100-300 ms)
  // and the Kubernetes API, so 16 threads overlap those waits: bench/queue_throughput.py measured 4.5x at 8
  // and 5.4x at 32 over one at a time, on 2 cores. ARM's write bucket (10 PUTs/s) stays the real ceiling.
  PYTHON_THREADPOOL_THREAD_COUNT: '16'
}

// Secrets come from @secure() parameters (never logged in deployment history) or a Key Vault reference.
var secretSettings = {
  KUBE_BEARER_TOKEN: empty(kubeBearerTokenSecretUri) ? kubeBearerToken : '@Microsoft.KeyVault(SecretUri=${kubeBearerTokenSecretUri})'
  AUDIT_BEARER_TOKEN: auditBearerToken
  EVENTGRID_TOPIC_KEY: eventGridTopicKey
  CHANGE_FEED_WORKSPACE_KEY: changeFeedWorkspaceKey
  SERVICE_ACCOUNT_TOKEN: serviceAccountToken
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': serviceName
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${account.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.13'
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: union(appSettings, hostSettings, secretSettings)
  }
}

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName
