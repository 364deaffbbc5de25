// Deployed into the ACI resource group: the app's identity may manage container groups here and nowhere else,
// and ARM events about those groups reach the arm_events function through the group's Event Grid system topic.
param identityPrincipalId string
@description('Resource id of the Function App (its arm_events function is the event destination).')
param functionAppId string
@description('Create the event subscription (the function must exist: the azd postdeploy hook enables it).')
param enableArmEvents bool = false

var contributor = 'b24988ac-6180-42a0-ab88-20f7382dd24c'
var containerGroupsPrefix = '${resourceGroup().id}/providers/Microsoft.ContainerInstance/containerGroups/'

resource contributorOnAciGroup 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, identityPrincipalId, contributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', contributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource armEventsTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: 'evgt-${uniqueString(resourceGroup().id)}'
  location: 'global'
  properties: {
    source: resourceGroup().id
    topicType: 'Microsoft.Resources.ResourceGroups'
  }
}

resource armEventsSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (enableArmEvents) {
  parent: armEventsTopic
  name: 'container-groups-to-arm-events'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/arm_events'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      subjectBeginsWith: containerGroupsPrefix
      includedEventTypes: [
        'Microsoft.Resources.ResourceWriteSuccess'
        'Microsoft.Resources.ResourceWriteFailure'
        'Microsoft.Resources.ResourceWriteCancel'
        'Microsoft.Resources.ResourceDeleteSuccess'
        'Microsoft.Resources.ResourceDeleteFailure'
        'Microsoft.Resources.ResourceDeleteCancel'
        'Microsoft.Resources.ResourceActionSuccess'
        'Microsoft.Resources.ResourceActionFailure'
        'Microsoft.Resources.ResourceActionCancel'
      ]
    }
    // An event older than an hour is worthless (the reconciler has caught up by then); docs/eventgrid.md's manual
    // subscription uses the same values, and a test keeps the two equal.
    retryPolicy: {
      maxDeliveryAttempts: 10
      eventTimeToLiveInMinutes: 60
    }
  }
}

output systemTopicName string = armEventsTopic.name
